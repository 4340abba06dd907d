"""`encore evaluate` keeps the metric promotion compared among the columns it has room for."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from core.settings import Settings
from models.commands import app
from models.registry import ModelRegistry


def test_the_deciding_metric_is_shown_when_metrics_outnumber_the_columns(tmp_path: Path) -> None:
    registry = ModelRegistry(Settings(data_dir=tmp_path))
    # ten metrics; the deciding one sorts last by name, where a name sort cut it off
    metrics = {f"a_metric_{i}": float(i) for i in range(9)} | {"zz_ndcg": 0.31}
    for value in (0.31, 0.35):
        version = registry.register(
            "recommender", {"model": 1}, metrics=metrics | {"zz_ndcg": value}, params={},
            data_snapshot={},
        )  # fmt: skip
        registry.promote("recommender", version.version, primary_metric="zz_ndcg",
                         higher_is_better=True)  # fmt: skip
    shown = CliRunner().invoke(
        app, ["evaluate"], env={"ENCORE_DATA_DIR": str(tmp_path), "COLUMNS": "300"}
    )
    assert shown.exit_code == 0, shown.output
    header = next(line for line in shown.output.splitlines() if "version" in line)
    assert "zz_ndcg" in header
    assert "0.35" in shown.output
