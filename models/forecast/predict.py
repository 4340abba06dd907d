"""Batch predictions from the champion forecaster, for artist–venue–date pairs or concert ids.

The prediction date is the day after the last completed concert in the warehouse (the data's
"today"), or the event date when that is earlier; features use only concerts completed before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import duckdb
import pandas as pd

from core.errors import ValidationError
from core.settings import Settings
from core.warehouse import reading
from models.features import concert_features, concert_targets
from models.forecast.train import load_or_train
from models.monitoring import record_predictions
from models.registry import ModelVersion
from models.serving.predictor import Predictor


def reference_date(con: duckdb.DuckDBPyConnection) -> date:
    """The data's "today": the day after the last completed concert (or today if none)."""
    row = con.execute(
        "SELECT max(event_date) FROM concert_performance WHERE status = 'completed'"
    ).fetchall()[0]
    last = row[0] if row else None
    return last + timedelta(days=1) if isinstance(last, date) else date.today()


def pair_targets(con: duckdb.DuckDBPyConnection, items: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Targets for items {artist_id, venue_id, date, price?}, keyed "0", "1", … in their order."""
    today = reference_date(con)
    targets = pd.DataFrame(
        {
            "key": [str(i) for i in range(len(items))],
            "artist_id": [item["artist_id"] for item in items],
            "venue_id": [item["venue_id"] for item in items],
            "event_date": [pd.Timestamp(item["date"]) for item in items],
            "price": [item.get("price") for item in items],
        }
    )
    targets["as_of"] = [min(d, pd.Timestamp(today)) for d in targets["event_date"]]
    targets["price"] = targets["price"].astype(float)
    return targets


def pair_features(con: duckdb.DuckDBPyConnection, items: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Feature rows for items {artist_id, venue_id, date, price?}, in the order given."""
    return concert_features(con, pair_targets(con, items))


def predict_pairs(
    settings: Settings,
    items: Sequence[dict[str, Any]],
    *,
    model: tuple[Predictor, ModelVersion] | None = None,
    features: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, ModelVersion]:
    """Predictions for items {artist_id, venue_id, date, price?}, in the order given.

    `features`: the items' `pair_features`, when the caller computed them on a reader it held
    anyway (opening another costs tens of milliseconds).
    """
    forecaster, meta = model or load_or_train(settings)
    if features is None:
        with reading(settings) as con:
            features = pair_features(con, items)
    return forecaster.predict(features).reset_index(drop=True), meta


def predict_concert_ids(
    settings: Settings,
    concert_ids: Sequence[str],
    *,
    model: tuple[Predictor, ModelVersion] | None = None,
) -> tuple[pd.DataFrame, ModelVersion]:
    """Predictions for existing concerts by id (scheduled ones, typically), keyed by concert_id,
    with each concert's event_date, status, artist, venue and the venue's capacity."""
    forecaster, meta = model or load_or_train(settings)
    wanted = list(dict.fromkeys(concert_ids))
    with reading(settings) as con:
        targets = concert_targets(con, wanted, reference_date(con))
        missing = sorted(set(wanted) - set(targets["key"]))
        if missing:
            raise ValidationError(
                f"unknown concert ids: {', '.join(missing[:10])}; list scheduled concerts with "
                "upcoming_concerts",
                field="concert_ids",
            )
        features = concert_features(con, targets)
        names = con.execute(
            "SELECT c.concert_id, a.name, v.name FROM concerts c JOIN artists a USING (artist_id) "
            "JOIN venues v USING (venue_id) WHERE list_contains(?, c.concert_id)",
            [wanted],
        ).fetchall()
    out = forecaster.predict(features)
    info = targets.set_index("key")
    out["event_date"] = info["event_date"]
    out["status"] = info["status"]
    out["capacity"] = features["capacity"]
    lookup = {cid: (artist, venue) for cid, artist, venue in names}
    out["artist"] = [lookup[cid][0] for cid in out.index]
    out["venue"] = [lookup[cid][1] for cid in out.index]
    out = out.reindex(wanted)
    # predictions for concerts still to come are logged, to be scored once they complete
    upcoming = out[out["status"] == "scheduled"]
    if not upcoming.empty:
        record_predictions(settings, upcoming, model=meta.name, version=meta.version)
    return out, meta
