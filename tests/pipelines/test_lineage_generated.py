"""`encore pipeline lineage` on a generated warehouse says where its rows came from."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.settings import Settings
from pipelines.commands.flows import pipeline_app
from tests.conftest import copy_warehouse, query_warehouse


def test_a_generated_artist_is_traced_to_the_build_and_an_unknown_id_is_named(
    small_warehouse: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = copy_warehouse(small_warehouse, tmp_path)
    monkeypatch.setenv("ENCORE_DATA_DIR", str(settings.data_dir))
    [(artist,)] = query_warehouse(settings, "SELECT min(artist_id) FROM artists")
    shown = CliRunner().invoke(pipeline_app, ["lineage", "artists", str(artist)],
                               terminal_width=200)  # fmt: skip
    assert shown.exit_code == 1
    assert "came with the warehouse" in shown.output and "not through a pipeline" in shown.output
    unknown = CliRunner().invoke(pipeline_app, ["lineage", "artists", "A-nobody"])
    assert "no artist 'A-nobody' in the warehouse" in unknown.output
