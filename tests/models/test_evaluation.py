"""Evaluation helpers: metrics by hand, splits that respect time, version comparison."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.settings import Settings
from models.evaluation import (
    compare_versions,
    cross_validate,
    interval_coverage,
    regression_metrics,
    rolling_origin,
    time_split,
)
from models.registry import ModelRegistry


def test_regression_metrics_by_hand() -> None:
    scores = regression_metrics([100, 200, 0], [110, 180, 5])
    assert scores["mae"] == pytest.approx(35 / 3)
    assert scores["rmse"] == pytest.approx(np.sqrt((100 + 400 + 25) / 3))
    assert scores["mape"] == pytest.approx((0.1 + 0.1 + 5.0) / 3)
    assert interval_coverage([1, 5, 9], [0, 6, 8], [2, 7, 10]) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="equal, non-empty"):
        regression_metrics([], [])


def _frame() -> pd.DataFrame:
    days = pd.to_datetime("2025-01-01") + pd.to_timedelta(np.repeat(np.arange(50), 4), unit="D")
    return pd.DataFrame({"event_date": days[::-1], "y": np.arange(200.0)})


def test_time_split_keeps_days_whole_and_ordered() -> None:
    train, cal, test = time_split(_frame(), (0.6, 0.2, 0.2))
    assert len(train) + len(cal) + len(test) == 200
    assert train["event_date"].max() < cal["event_date"].min()
    assert cal["event_date"].max() < test["event_date"].min()


def test_rolling_origin_trains_only_on_the_past() -> None:
    folds = list(rolling_origin(_frame(), folds=3, test_fraction=0.1))
    assert len(folds) == 3
    for train, test in folds:
        assert len(test) == 20 and train["event_date"].max() <= test["event_date"].min()
    assert len(folds[0][0]) < len(folds[1][0]) < len(folds[2][0])
    cv = cross_validate(
        _frame(), lambda train, test: np.full(len(test), train["y"].mean()), target="y"
    )
    assert cv["mae_mean"] > 0 and "rmse_std" in cv


def test_compare_versions_lists_every_version(settings: Settings) -> None:
    registry = ModelRegistry(settings)
    for mae in (3.0, 4.0):
        v = registry.register(
            "sales_forecast", {}, metrics={"mae": mae}, params={}, data_snapshot={}
        )
        registry.promote("sales_forecast", v.version, primary_metric="mae", higher_is_better=False)
    rows = compare_versions(registry)
    assert [(r["version"], r["status"]) for r in rows] == [
        ("v0001", "champion"),
        ("v0002", "rejected"),
    ]
