"""`encore pipeline run` reports the quality of what the run changed, not of the whole warehouse."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from core.settings import Settings
from core.warehouse import connect_writer
from pipelines.commands import flows  # noqa: F401  (registers the pipeline commands)
from pipelines.commands.common import pipeline_app
from pipelines.schedule import PipelineScheduler
from tests.conftest import query_warehouse

ARTISTS = "artist_id,name,genre,popularity\nA1,Velvet Wolves,indie,40\n"


def _plant_a_sale_of_an_unknown_concert(settings: Settings) -> None:
    """An old problem in a table the tests' runs do not touch (an error-level check fails)."""
    con = connect_writer(settings)
    con.execute("INSERT INTO ticket_sales (sale_id, concert_id, sold_at, channel, price_tier, "
                "quantity, unit_price, amount) VALUES ('S1', 'C-GONE', now(), 'web', 'general', "
                "1, 10, 10)")  # fmt: skip
    con.close()


def _run(*args: str) -> tuple[int, str]:
    done = CliRunner().invoke(pipeline_app, ["run", "--no-apis", *args], terminal_width=200)
    return done.exit_code, done.output


def test_a_run_judges_the_tables_it_changed_and_the_warehouse_on_request(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENCORE_DATA_DIR", str(settings.data_dir))
    _plant_a_sale_of_an_unknown_concert(settings)
    landing = settings.data_dir / "landing"
    landing.mkdir(parents=True)
    (landing / "artists.csv").write_text(ARTISTS)

    code, out = _run()
    assert code == 0, out  # the artists it loaded are fine; the old sale is not this run's
    assert "data quality of the tables this run changed (artists, pipeline_runs) passed" in out
    assert "0 over limit" in out
    assert "sale belongs to a known concert" not in out

    code, out = _run()  # nothing new: only the loads' freshness to judge, and it is fine
    assert code == 0, out
    assert "no data changed, so only the freshness of the loads was checked: fresh" in out
    assert "sale belongs to a known concert" not in out

    code, out = _run("--quality", "warehouse")  # the whole warehouse, on request
    assert code == 1, out
    assert "data quality of the warehouse failed" in out
    assert "ticket_sales: sale belongs to a known concert (100.0% of 1)" in out


def test_a_scheduled_tick_counts_failed_checks_of_its_own_changes(settings: Settings) -> None:
    _plant_a_sale_of_an_unknown_concert(settings)
    scheduler = PipelineScheduler(settings, use_apis=False)
    idle = scheduler.tick()  # nothing landed: nothing to judge, whatever the warehouse holds
    landing = settings.data_dir / "landing"
    (landing / "artists.csv").write_text(ARTISTS)
    loaded = scheduler.tick()
    assert (idle.status, loaded.status) == ("succeeded", "succeeded")
    assert loaded.records == (1, 1, 0)
    failed_checks = query_warehouse(
        settings, "SELECT value FROM pipeline_metrics WHERE name = 'quality_failed_checks' "
        "ORDER BY recorded_at"
    )  # fmt: skip
    assert failed_checks == [(0.0,), (0.0,)]
