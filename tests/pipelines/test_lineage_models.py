"""Lineage reaches the models: a version's snapshot names the latest load it had seen, and an
entity's lineage lists the versions trained on data that includes its records (DESIGN 5.5)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.settings import Settings
from core.warehouse import reading
from models.registry import ModelRegistry, warehouse_snapshot
from pipelines.commands.flows import pipeline_app
from pipelines.ingest import ingest_files


def test_a_model_trained_after_a_load_is_in_its_entities_lineage_and_not_in_later_ones(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENCORE_DATA_DIR", str(settings.data_dir))
    first = tmp_path / "first.csv"
    first.write_text("artist_id,name,genre\nA1,The Velvet Wolves,indie\n")
    [loaded] = ingest_files(settings, [first], source="crm")
    with reading(settings) as con:
        snapshot = warehouse_snapshot(con)
    assert loaded.run is not None and snapshot["last_load"]["run_id"] == loaded.run.run_id
    ModelRegistry(settings).register("recommender", {"fitted": True}, metrics={}, params={},
                                     data_snapshot=snapshot)  # fmt: skip
    later = tmp_path / "later.csv"
    later.write_text("artist_id,name,genre\nA2,Copper Owls,folk\n")
    ingest_files(settings, [later], source="crm")

    def lineage(artist: str) -> str:
        shown = CliRunner().invoke(pipeline_app, ["lineage", "artists", artist],
                                   terminal_width=200)  # fmt: skip
        assert shown.exit_code == 0, shown.output
        return shown.output

    assert "recommender v0001" in lineage("A1")
    assert f"data up to load {loaded.run.run_id}" in lineage("A1")
    assert "recommender" not in lineage("A2")  # trained before that artist arrived
