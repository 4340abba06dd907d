"""`encore drift` says what its figures mean: whether the predictions drifted (the alert) and
which inputs moved past the threshold."""

from __future__ import annotations

from pathlib import Path

from core.settings import Settings
from models.monitoring import PSI_ALERT, drift_report
from tests.conftest import copy_warehouse


def test_the_report_names_its_verdict_and_the_inputs_that_moved(
    trained_warehouse: Settings, tmp_path: Path
) -> None:
    settings = copy_warehouse(trained_warehouse, tmp_path, models=True)
    report = drift_report(settings, alert=False)
    verdict = report["verdict"]
    drifted = report["prediction"]["psi"] > PSI_ALERT
    assert ("the predictions drifted" in verdict) == drifted
    assert ("no alert" in verdict) == (not drifted)
    if report["drifted_features"]:
        worst = max(report["features"], key=lambda row: row["psi"])
        assert f"{worst['feature']} {worst['psi']:.2f}" in verdict
        assert f"{len(report['drifted_features'])} of {len(report['features'])} inputs" in verdict
    else:
        assert "no input past PSI" in verdict
