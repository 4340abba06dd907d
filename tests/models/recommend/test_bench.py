"""`encore bench recommend` on the small warehouse: every variant, its metrics, a refresh time."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from core.settings import Settings
from models.recommend.cli import bench_app


def test_bench_reports_each_variant_and_the_refresh_time(
    small_warehouse: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # register=False inside the bench: the read-only fixture's data dir gets no models
    monkeypatch.setenv("ENCORE_DATA_DIR", str(small_warehouse.data_dir))
    root = typer.Typer()  # mounted the way the lead mounts it: `encore bench recommend`
    root.add_typer(bench_app, name="bench")
    root.command("noop")(lambda: None)  # a second command keeps Typer from collapsing the group
    result = CliRunner().invoke(root, ["bench", "recommend", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    names = [row["name"] for row in report["models"]]
    assert names == ["hybrid", "cf-only", "content-only", "popularity", "cf-only (item-kNN)"]
    for row in report["models"]:
        for metric in ("precision@10", "recall@10", "ndcg@10", "map@10", "coverage@10"):
            assert 0.0 <= row[metric] <= 1.0
            assert 0.0 <= row[f"artist_{metric}"] <= 1.0
    assert report["refresh_s"] > 0
    assert not (small_warehouse.models_dir / "recommender").exists()
