"""Monitoring: PSI/KS behave, logged predictions meet actuals, degradation raises an alert."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from core.settings import Settings
from models.monitoring import ks, psi, record_predictions, track_actuals
from models.registry import ModelRegistry
from tests.conftest import copy_warehouse, query_warehouse


def test_psi_and_ks_see_a_shift_and_not_noise() -> None:
    rng = np.random.default_rng(42)
    base = rng.normal(0, 1, 5000)
    same = rng.normal(0, 1, 5000)
    shifted = rng.normal(1, 1, 5000)
    assert psi(base, same) < 0.05 < 0.25 < psi(base, shifted)
    assert ks(base, same)[0] < 0.05 and ks(base, shifted)[0] > 0.3
    assert np.isnan(psi([], [1.0]))


def test_degraded_predictions_raise_an_alert(small_warehouse: Settings, tmp_path: Path) -> None:
    settings = copy_warehouse(small_warehouse, tmp_path)
    registry = ModelRegistry(settings)
    version = registry.register(
        "sales_forecast", {"stub": True}, metrics={"mape": 0.2}, params={}, data_snapshot={}
    )
    registry.promote(
        "sales_forecast", version.version, primary_metric="mape", higher_is_better=False
    )
    assert track_actuals(settings)["tracked"] == 0
    done = query_warehouse(
        settings,
        "SELECT concert_id, tickets_sold FROM concert_performance "
        "WHERE status = 'completed' AND results_source <> 'none' ORDER BY concert_id LIMIT 30",
    )
    wrong = pd.DataFrame(
        {
            "tickets_sold": [3.0 * float(str(t)) + 100 for _, t in done],
            "tickets_low": [2.0 * float(str(t)) + 50 for _, t in done],
            "tickets_high": [4.0 * float(str(t)) + 200 for _, t in done],
            "confidence": [0.9] * len(done),
        },
        index=[c for c, _ in done],
    )
    assert record_predictions(settings, wrong, model="sales_forecast", version="v0001") == 30
    report = track_actuals(settings)
    assert report["tracked"] == 30 and report["degraded"] and report["coverage"] == 0.0
    alerts = query_warehouse(settings, "SELECT source, severity, message FROM alerts")
    assert len(alerts) == 1 and alerts[0][0] == "model:sales_forecast"
    assert "encore train sales_forecast" in str(alerts[0][2])
