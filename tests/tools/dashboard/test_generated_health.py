"""A generated warehouse (encore demo / generate) has data but no pipeline runs: the health
verdict says how it was built, not that nothing was loaded."""

from __future__ import annotations

from pathlib import Path

from core.settings import Settings
from tests.conftest import copy_warehouse
from tools.context import ToolContext
from tools.dashboard.health import NO_RUNS, pipeline_health


def test_a_generated_warehouse_is_reported_as_built_not_as_empty(
    small_warehouse: Settings, tmp_path: Path
) -> None:
    settings = copy_warehouse(small_warehouse, tmp_path)
    health = pipeline_health(ToolContext(settings, role="admin"))
    assert health.message != NO_RUNS
    assert "was built by" in health.message and "rows)" in health.message
    assert "no pipeline has loaded data into it since" in health.message


def test_a_warehouse_without_any_data_still_says_to_load_some(tmp_path: Path) -> None:
    from core.warehouse import connect_writer

    settings = Settings(data_dir=tmp_path / "encore")
    connect_writer(settings).close()  # the schema, no build, no runs
    assert pipeline_health(ToolContext(settings, role="admin")).message == NO_RUNS
