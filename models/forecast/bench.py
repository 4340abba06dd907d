"""`encore bench forecast`: the forecaster against both baselines on a time-based holdout, and
what one prediction costs.

One prediction (open a reader, the pair's features, predict) is timed beside the same call with
the running totals computed for every artist, venue and genre, which is what each prediction
paid before they were computed for the pair's own. Both run in this process, taking turns, so
their ratio holds on a busy machine where the milliseconds do not; the CPU time of each call
(every thread of the process, DuckDB's included) is reported beside its wall time for the same
reason.
"""

from __future__ import annotations

import resource
import statistics
import time
from typing import Any, Final

from core.settings import Settings
from core.warehouse import reading
from models.features import concert_features
from models.forecast.model import SalesForecaster
from models.forecast.predict import pair_targets
from models.forecast.train import holdout_model, training_frame

LATENCY_ROUNDS: Final = 15


def bench_forecast(
    settings: Settings, *, seed: int = 42, rounds: int = LATENCY_ROUNDS
) -> dict[str, Any]:
    """Train on the oldest 60%, calibrate on the next 20%, score model and baselines on the
    newest 20%: MAE, RMSE, MAPE, interval coverage, the confidence calibration; then the
    latency of one prediction with that model (`latency`; none when `rounds` is 0)."""
    started = time.perf_counter()
    with reading(settings) as con:
        frame = training_frame(con)
    model, result = holdout_model(frame, seed=seed)
    result["seconds"] = round(time.perf_counter() - started, 2)
    if rounds:
        result["latency"] = prediction_latency(settings, model, rounds=rounds)
    return result


def _pairs(settings: Settings, count: int) -> list[dict[str, Any]]:
    """Artist–venue pairs of the newest concerts, each asked about 30 days after it."""
    with reading(settings) as con:
        rows = con.execute(
            "SELECT artist_id, venue_id, max(event_date) + INTERVAL 30 DAY AS day "
            "FROM concert_performance WHERE status = 'completed' "
            "GROUP BY ALL ORDER BY day DESC, artist_id, venue_id LIMIT ?",
            [count],
        ).fetchall()
    return [{"artist_id": a, "venue_id": v, "date": day} for a, v, day in rows]


def _predict_one(
    settings: Settings, model: SalesForecaster, item: dict[str, Any], *, every_group: bool
) -> None:
    with reading(settings) as con:
        features = concert_features(con, pair_targets(con, [item]), every_group=every_group)
    model.predict(features)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def prediction_latency(
    settings: Settings, model: SalesForecaster, *, rounds: int = LATENCY_ROUNDS
) -> dict[str, float]:
    """p50 of one prediction, of the same computing every group's totals, and their ratio;
    wall and CPU milliseconds."""
    pairs = _pairs(settings, rounds)
    _predict_one(settings, model, pairs[0], every_group=False)  # warm: caches filled
    wall: dict[bool, list[float]] = {False: [], True: []}
    cpu: dict[bool, list[float]] = {False: [], True: []}
    for item in pairs:
        for every_group in (False, True):
            started, cpu_started = time.perf_counter(), _cpu_seconds()
            _predict_one(settings, model, item, every_group=every_group)
            wall[every_group].append((time.perf_counter() - started) * 1000)
            cpu[every_group].append((_cpu_seconds() - cpu_started) * 1000)
    per_pair, every = (statistics.median(wall[k]) for k in (False, True))
    return {
        "rounds": float(len(pairs)),
        "p50_ms": round(per_pair, 1),
        "every_group_p50_ms": round(every, 1),
        "ratio_to_every_group": round(per_pair / every, 3),
        "cpu_p50_ms": round(statistics.median(cpu[False]), 1),
        "every_group_cpu_p50_ms": round(statistics.median(cpu[True]), 1),
    }
