"""Model evaluation: regression metrics, time-based splits, rolling-origin CV, version comparison.

Ranking metrics (precision, recall, NDCG, MAP at k, coverage) live in `models.recsys.metrics`
and are re-exported here so callers have one place to import evaluation from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from models.recsys.metrics import RankingMetrics, ranking_metrics
from models.registry import ModelRegistry

__all__ = [
    "RankingMetrics",
    "compare_versions",
    "interval_coverage",
    "ranking_metrics",
    "regression_metrics",
    "rolling_origin",
    "time_split",
]

FloatArray = npt.NDArray[np.float64]


def regression_metrics(
    actual: Sequence[float] | FloatArray, predicted: Sequence[float] | FloatArray
) -> dict[str, float]:
    """MAE, RMSE and MAPE (mean of |error| / max(actual, 1), so zero actuals stay finite)."""
    y = np.asarray(actual, dtype=float)
    p = np.asarray(predicted, dtype=float)
    if y.shape != p.shape or y.size == 0:
        raise ValueError(f"need equal, non-empty arrays; got {y.shape} and {p.shape}")
    err = p - y
    return {
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mape": float(np.mean(np.abs(err) / np.maximum(np.abs(y), 1.0))),
    }


def interval_coverage(
    actual: Sequence[float] | FloatArray,
    low: Sequence[float] | FloatArray,
    high: Sequence[float] | FloatArray,
) -> float:
    """The share of actuals inside [low, high]."""
    y = np.asarray(actual, dtype=float)
    return float(
        np.mean((y >= np.asarray(low, dtype=float)) & (y <= np.asarray(high, dtype=float)))
    )


def time_split(
    frame: pd.DataFrame, fractions: Sequence[float], *, date_column: str = "event_date"
) -> list[pd.DataFrame]:
    """Consecutive windows in time: e.g. (0.6, 0.2, 0.2) → train, calibration, test.

    Cut points fall on date boundaries so one day never sits on both sides of a cut.
    """
    if not np.isclose(sum(fractions), 1.0):
        raise ValueError(f"fractions must add up to 1; got {list(fractions)}")
    ordered = frame.sort_values(date_column, kind="stable").reset_index(drop=True)
    dates = ordered[date_column].to_numpy()
    parts, start = [], 0
    for cumulative in np.cumsum(fractions)[:-1]:
        cut_date = dates[min(int(len(dates) * cumulative), len(dates) - 1)]
        end = int(np.searchsorted(dates, cut_date, side="left"))
        parts.append(ordered.iloc[start:end])
        start = end
    parts.append(ordered.iloc[start:])
    return parts


def rolling_origin(
    frame: pd.DataFrame,
    *,
    folds: int = 3,
    test_fraction: float = 0.1,
    date_column: str = "event_date",
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """Rolling-origin CV: each fold trains on everything before its test window, in time order."""
    ordered = frame.sort_values(date_column, kind="stable").reset_index(drop=True)
    n = len(ordered)
    size = int(n * test_fraction)
    for fold in range(folds):
        test_end = n - (folds - 1 - fold) * size
        test_start = test_end - size
        yield ordered.iloc[:test_start], ordered.iloc[test_start:test_end]


def cross_validate(
    frame: pd.DataFrame,
    fit_predict: Callable[[pd.DataFrame, pd.DataFrame], FloatArray],
    *,
    target: str,
    folds: int = 3,
    test_fraction: float = 0.1,
) -> dict[str, float]:
    """Mean and spread of MAE/RMSE/MAPE over rolling-origin folds of `fit_predict(train, test)`."""
    scores = [
        regression_metrics(test[target].to_numpy(), fit_predict(train, test))
        for train, test in rolling_origin(frame, folds=folds, test_fraction=test_fraction)
    ]
    out: dict[str, float] = {}
    for key in scores[0]:
        values = np.array([s[key] for s in scores])
        out[f"{key}_mean"] = float(values.mean())
        out[f"{key}_std"] = float(values.std())
    return out


def compare_versions(
    registry: ModelRegistry, names: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Every version of every model side by side: status, trained_at, metrics, decision, the
    metric it was decided by, `not_evaluated`, why a version has no holdout metrics (None
    when it has them), and `fingerprint`, equal for versions that are the same model."""
    rows: list[dict[str, Any]] = []
    for name in names or registry.models():
        for version in registry.versions(name):
            rows.append(
                {
                    "model": name,
                    "version": version.version,
                    "status": version.status,
                    "trained_at": version.trained_at.isoformat(timespec="seconds"),
                    "metrics": version.metrics,
                    "decision": version.decision,
                    "decided_by": version.decided_by,
                    "not_evaluated": version.not_evaluated,
                    "fingerprint": version.fingerprint,
                }
            )
    return rows
