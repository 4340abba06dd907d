"""Train, evaluate and register the ticket-sales forecaster.

Evaluation is time-based: train on the oldest 60% of completed concerts, calibrate on the next
20%, test on the newest 20%, with the two baselines the issue asks for scored on the same test
window. The version that is registered is then refitted on train+calibration → calibrated on the
newest window, so it sees the most recent data while its confidence stays calibrated out of time.

Training is reproducible: the same warehouse and seed give the same model, metrics and predictions
(the version's `fingerprint` is the same), whatever the threads or the rows' order on disk.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

import duckdb
import numpy as np
import pandas as pd

from core.errors import EncoreError
from core.settings import Settings
from core.warehouse import reading
from models.evaluation import interval_coverage, regression_metrics, time_split
from models.features import concert_features, training_targets
from models.forecast import LOW_CONFIDENCE, TOLERANCE
from models.forecast.model import SalesForecaster
from models.registry import ModelRegistry, ModelVersion, warehouse_snapshot

log = logging.getLogger(__name__)

MODEL_NAME: Final = "sales_forecast"
PRIMARY_METRIC: Final = "mape"
PROTOCOL: Final = "holdout 60/20/20 by date; features as of the on-sale date"
"""How the metrics were measured; versions evaluated differently are not compared on them."""
_LABELS: Final = ("tickets_sold", "sell_through", "avg_ticket_price", "gross", "event_date")
_MIN_ROWS: Final = 200

Progress = Callable[[str], None]


def training_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Labels and point-in-time features of every completed concert, oldest first."""
    targets = training_targets(con)
    if len(targets) < _MIN_ROWS:
        raise EncoreError(
            f"only {len(targets)} completed concerts with results; the forecaster needs at least "
            f"{_MIN_ROWS} (load more data, e.g. `encore generate`)",
            rows=len(targets),
        )
    features = concert_features(con, targets).reset_index(drop=True)
    labels = targets[list(_LABELS)].reset_index(drop=True)
    labels.index = features.index
    return pd.concat([labels, features], axis=1)


def baselines(train: pd.DataFrame, test: pd.DataFrame) -> dict[str, np.ndarray]:
    """The two baselines: the artist's mean tickets so far, and capacity × median sell-through."""
    median_st = float(train["sell_through"].median())
    by_capacity = test["capacity"].to_numpy(dtype=float) * median_st
    # an artist with no history falls back to the capacity baseline rather than to nothing
    artist_mean = test["a_mean_tickets"].to_numpy(dtype=float)
    artist_mean = np.where(np.isnan(artist_mean), by_capacity, artist_mean)
    return {"artist_mean": artist_mean, "capacity_x_median_st": by_capacity}


def _scores(
    actual: np.ndarray,
    predicted: np.ndarray,
    low: np.ndarray | None = None,
    high: np.ndarray | None = None,
) -> dict[str, float]:
    scores = regression_metrics(actual, predicted)
    if low is not None and high is not None:
        scores["coverage"] = interval_coverage(actual, low, high)
    return scores


def holdout_evaluation(frame: pd.DataFrame, *, seed: int = 42) -> dict[str, Any]:
    """Model vs baselines on the newest 20% (train 60%, calibrate 20%): metrics and calibration."""
    return holdout_model(frame, seed=seed)[1]


def holdout_model(frame: pd.DataFrame, *, seed: int = 42) -> tuple[SalesForecaster, dict[str, Any]]:
    """The model `holdout_evaluation` fits, with its evaluation (benchmarks time it next)."""
    train, calibration, test = time_split(frame, (0.6, 0.2, 0.2))
    model = SalesForecaster(seed=seed).fit(train, calibration)
    pred = model.predict(test)
    actual = test["tickets_sold"].to_numpy(dtype=float)
    results: dict[str, dict[str, float]] = {
        "model": _scores(
            actual,
            pred["tickets_sold"].to_numpy(),
            pred["tickets_low"].to_numpy(),
            pred["tickets_high"].to_numpy(),
        )
    }
    for name, values in baselines(pd.concat([train, calibration]), test).items():
        results[name] = _scores(actual, values)
    within = (
        np.abs(actual - pred["tickets_sold"].to_numpy())
        <= TOLERANCE * pred["tickets_sold"].to_numpy()
    )
    confident = pred["confidence"].to_numpy() >= LOW_CONFIDENCE
    calibration_report = {
        "share_confident": float(confident.mean()),
        "hit_rate_confident": float(within[confident].mean()) if confident.any() else float("nan"),
        "hit_rate_low_confidence": float(within[~confident].mean())
        if (~confident).any()
        else float("nan"),
        "mean_confidence": float(pred["confidence"].mean()),
        "hit_rate_all": float(within.mean()),
    }
    return model, {
        "rows": {"train": len(train), "calibration": len(calibration), "test": len(test)},
        "test_window": [str(test["event_date"].min())[:10], str(test["event_date"].max())[:10]],
        "metrics": results,
        "calibration": calibration_report,
    }


def train(
    settings: Settings, *, seed: int = 42, progress: Progress | None = None
) -> dict[str, Any]:
    """Evaluate on a time holdout, refit on all history, register, and promote if not worse."""
    note = progress or (lambda _msg: None)
    note("reading features")
    with reading(settings) as con:
        frame = training_frame(con)
        snapshot = warehouse_snapshot(con)
    note("evaluating on the time holdout")
    evaluation = holdout_evaluation(frame, seed=seed)
    note("fitting the final model")
    fit_part, calibration = time_split(frame, (0.8, 0.2))
    model = SalesForecaster(seed=seed).fit(fit_part, calibration)
    metrics = {
        **evaluation["metrics"]["model"],
        **{
            f"{name}_mape": m["mape"]
            for name, m in evaluation["metrics"].items()
            if name != "model"
        },
        "confident_hit_rate": evaluation["calibration"]["hit_rate_confident"],
    }
    registry = ModelRegistry(settings)
    version = registry.register(
        MODEL_NAME,
        model,
        metrics=metrics,
        params={
            **model.params,
            "seed": seed,
            "features": list(model.features),
            "protocol": PROTOCOL,
        },
        data_snapshot=snapshot,
    )
    promoted = registry.promote(
        MODEL_NAME,
        version.version,
        primary_metric=PRIMARY_METRIC,
        higher_is_better=False,
        protocol_param="protocol",
    )
    return {
        "model": MODEL_NAME,
        "version": version.version,
        "promoted": promoted,
        "fingerprint": version.fingerprint,
        **evaluation,
    }


def load_or_train(settings: Settings) -> tuple[SalesForecaster, ModelVersion]:
    """The champion forecaster, training one first when none exists (seconds at small scale)."""
    from models.registry import ModelNotTrainedError

    registry = ModelRegistry(settings)
    try:
        artifact, meta = registry.load(MODEL_NAME)
    except ModelNotTrainedError:
        log.info("no %s model yet; training one now", MODEL_NAME)
        train(settings)
        artifact, meta = registry.load(MODEL_NAME)
    if not isinstance(artifact, SalesForecaster):
        raise EncoreError(f"{MODEL_NAME} {meta.version} is not a SalesForecaster; retrain it")
    return artifact, meta
