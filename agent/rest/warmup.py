"""The forecaster warmed when the API starts, off the request path.

A first forecast would otherwise import scikit-learn, unpickle the champion and run the feature
and prediction code for the first time inside the request: seconds, where later ones take
~0.1 s. The app starts one `Warmup` thread as it starts serving, so the server accepts
connections meanwhile; the forecast endpoints `wait()` for it, so a forecast that arrives early
waits for that same warm-up instead of loading the model a second time.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import Final, Literal

from core.settings import Settings
from core.warehouse import reading

log = logging.getLogger(__name__)

WarmState = Literal["cold", "warming", "warm", "untrained", "failed"]
"""cold: not started · warming · warm: loaded and one forecast made · untrained: no model yet
(the first forecast trains one) · failed: see the log (forecasts load the model themselves)."""

WAIT_S: Final = 120.0
"""How long a forecast waits for the warm-up before loading the forecaster itself: a warm-up
that hangs must not hang every forecast."""

_WARM_AHEAD: Final = timedelta(days=28)


class Warmup:
    """One background warm-up of what a first forecast needs, started at most once."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self.state: WarmState = "cold"
        self.seconds: float | None = None
        """How long the warm-up took, once it has finished."""

    def start(self) -> None:
        """Start the warm-up thread unless it has started already."""
        with self._lock:
            if self._thread is not None:
                return
            self.state = "warming"
            self._thread = threading.Thread(target=self._run, name="encore-warmup", daemon=True)
            self._thread.start()

    def wait(self, timeout_s: float = WAIT_S) -> bool:
        """Block until the warm-up has finished (starting it if nothing had); False on timeout."""
        self.start()
        if self._done.wait(timeout_s):
            return True
        log.warning("the forecaster warm-up is still running after %.0f s; not waiting", timeout_s)
        return False

    def _run(self) -> None:
        started = time.perf_counter()
        state: WarmState = "failed"
        try:
            state = "warm" if warm_forecaster(self._settings) else "untrained"
        except Exception:  # a background thread of the server: log, never take the server down
            log.warning(
                "warming the forecaster failed; forecasts load it themselves", exc_info=True
            )
        finally:
            self.seconds = time.perf_counter() - started
            self.state = state
            self._done.set()
        log.info("forecaster warm-up: %s in %.2f s", state, self.seconds)


def warm_forecaster(settings: Settings) -> bool:
    """Load the forecaster the settings choose and, when it runs in this process, forecast one
    real pair with it, so imports, the unpickled model and the code paths are all in memory.

    False when no forecaster is trained yet: training is left to the first forecast (a server
    that starts does not write models on its own).
    """
    from models.forecast.predict import pair_features, predict_pairs, reference_date
    from models.forecast.train import MODEL_NAME
    from models.registry import ModelRegistry
    from models.serving.predictor import forecaster, predictor_kind

    if predictor_kind(settings) == "local" and ModelRegistry(settings).current(MODEL_NAME) is None:
        log.info("no %s model yet: the first forecast trains one", MODEL_NAME)
        return False
    model = forecaster(settings)
    if predictor_kind(settings) != "local":  # a remote endpoint's call is billed: its client it is
        return True
    with reading(settings) as con:
        artist_id, venue_id = con.execute(
            "SELECT (SELECT min(artist_id) FROM artists), (SELECT min(venue_id) FROM venues)"
        ).fetchall()[0]
        if artist_id is None or venue_id is None:
            return True
        day = reference_date(con) + _WARM_AHEAD
        item = {"artist_id": artist_id, "venue_id": venue_id, "date": day.isoformat()}
        features = pair_features(con, [item])
    predict_pairs(settings, [item], model=model, features=features)
    return True
