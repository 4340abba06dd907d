"""`encore bench forecast`: the forecaster against both baselines on a time-based holdout."""

from __future__ import annotations

import time
from typing import Any

from core.settings import Settings
from core.warehouse import reading
from models.forecast.train import holdout_evaluation, training_frame


def bench_forecast(settings: Settings, *, seed: int = 42) -> dict[str, Any]:
    """Train on the oldest 60%, calibrate on the next 20%, score model and baselines on the
    newest 20%: MAE, RMSE, MAPE, interval coverage, and the confidence calibration."""
    started = time.perf_counter()
    with reading(settings) as con:
        frame = training_frame(con)
    result = holdout_evaluation(frame, seed=seed)
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result
