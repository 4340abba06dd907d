"""A step of a pipeline run that fails before loading anything (an API still failing after its
retries) is logged in the run ledger and alerted, by `encore pipeline run`, the MCP tool and the
scheduler alike; the next run in which it succeeds resolves the alert."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.settings import Settings
from core.warehouse import connect_writer
from pipelines.commands import flows  # noqa: F401  (registers the pipeline commands)
from pipelines.commands.common import pipeline_app
from pipelines.schedule import PipelineScheduler, Refresher
from pipelines.sources.ticketmaster import skip_reason
from tests.conftest import query_warehouse
from tests.pipelines.sources.conftest import ReplayServer, Reply, nock
from tools.context import ToolContext
from tools.ingestion import start_pipeline_run

SECRET = "SECRETKEY123456"
EVENTS = "/discovery/v2/events"
# Retry-After: 0 retries at once: the test waits for no backoff, the client still tries 4 times
SERVER_ERROR = Reply(500, {"fault": "boom"}, headers={"Retry-After": "0"})


@pytest.fixture
def api() -> Iterator[ReplayServer]:
    server = ReplayServer()
    yield server
    server.close()


def _tm_settings(tmp_path: Path, api: ReplayServer) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "encore", ticketmaster_api_key=SECRET,
                    ticketmaster_base_url=f"{api.url}/discovery/v2")  # fmt: skip


def _one_page(reply: Reply) -> Reply:
    """The recorded first page of events as the only page (it says 3,779 follow)."""
    body = copy.deepcopy(reply.body)
    body["page"]["totalPages"] = 1
    body["_links"].pop("next")
    return Reply(reply.status, body)


def _step_runs(settings: Settings) -> list[tuple[object, ...]]:
    return query_warehouse(settings, "SELECT source, status, attempts, error, inputs "
                                     "FROM pipeline_runs WHERE pipeline = 'run' "
                                     "ORDER BY started_at")  # fmt: skip


def _alerts(settings: Settings, source: str) -> list[tuple[object, ...]]:
    return query_warehouse(settings, "SELECT severity, message, occurrences, resolved_at IS NULL, "
                                     "details->>'resolved_by_run' FROM alerts "
                                     f"WHERE source = '{source}' ORDER BY message")  # fmt: skip


def test_cli_run_with_a_failing_api_records_it_alerts_once_and_resolves_on_recovery(
    tmp_path: Path, api: ReplayServer, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _tm_settings(tmp_path, api)
    monkeypatch.setenv("ENCORE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ENCORE_TICKETMASTER_API_KEY", SECRET)
    monkeypatch.setenv("ENCORE_TICKETMASTER_BASE_URL", f"{api.url}/discovery/v2")
    # each failed attempt takes 0.2 s, so the step's four take a time the ledger must show
    api.route(EVENTS, dataclasses.replace(SERVER_ERROR, delay_s=0.2))

    def run() -> tuple[int, str]:
        done = CliRunner().invoke(pipeline_app, ["run"], terminal_width=250)
        return done.exit_code, done.output

    code, out = run()
    assert code == 1, out
    assert len(api.requests(EVENTS)) == 4  # retried: 1 + 3
    [(source, status, attempts, error, inputs)] = _step_runs(settings)
    assert (source, status, attempts) == ("ticketmaster", "failed", 4)
    assert "failed after 4 attempt(s): HTTP 500" in str(error)
    assert "ticketmaster failed: recorded as run" in out and "2 alert(s) raised" in out
    alerts = _alerts(settings, "run:ticketmaster")
    assert [(a[0], a[2], a[3]) for a in alerts] == [("critical", 1, True)] * 2
    assert "still failed after every retry" in str(alerts[0][1])
    everything = str(query_warehouse(settings, "SELECT * FROM pipeline_runs")) + str(
        query_warehouse(settings, "SELECT * FROM alerts")
    )
    assert SECRET not in everything and "apikey=***" in str(inputs)
    # the row spans the step's own time (its four attempts), as its duration metric says
    [(spanned, measured)] = query_warehouse(
        settings,
        "SELECT epoch(r.finished_at - r.started_at), m.value FROM pipeline_runs r "
        "JOIN pipeline_metrics m USING (run_id) WHERE r.pipeline = 'run' AND m.name = 'duration_s'",
    )
    assert float(measured) >= 0.8  # four attempts of 0.2 s
    assert abs(float(spanned) - float(measured)) < 0.25 * float(measured) + 0.25

    code, _ = run()  # still failing: one more failed run, the same two alerts seen again
    assert code == 1
    assert len(_step_runs(settings)) == 2
    assert [(a[2], a[3]) for a in _alerts(settings, "run:ticketmaster")] == [(2, True)] * 2

    api.route(EVENTS, _one_page(nock(shared_data, "event_all-200")))  # the API is back
    code, out = run()
    assert code == 0, out
    loads = query_warehouse(
        settings,
        "SELECT run_id FROM pipeline_runs WHERE pipeline = 'ingest' AND source = 'ticketmaster'",
    )
    assert len(loads) == 3  # artists, venues, concerts
    assert len(_step_runs(settings)) == 2  # a success is logged by its loads, not twice
    resolved = _alerts(settings, "run:ticketmaster")
    assert [a[3] for a in resolved] == [False, False], out
    assert {a[4] for a in resolved} <= {r[0] for r in loads}


def test_the_mcp_tool_records_an_api_failure_once_and_leaves_a_failed_file_to_its_load(
    tmp_path: Path, api: ReplayServer
) -> None:
    settings = _tm_settings(tmp_path, api)
    api.route(EVENTS, Reply(401, {"fault": "Invalid ApiKey"}))  # not retried
    landing = settings.data_dir / "landing"
    landing.mkdir(parents=True)
    (landing / "mystery.csv").write_text("foo,bar\n1,2\n")  # no entity fits: its load fails

    result = start_pipeline_run(ToolContext(settings, role="admin"), confirm=True)

    assert result.status == "failed"
    steps = {s["name"]: s["status"] for s in result.steps}
    assert (steps["files"], steps["ticketmaster"]) == ("failed", "failed")
    [(source, status, attempts, error, _)] = _step_runs(settings)  # the file is not in it
    assert (source, status, attempts) == ("ticketmaster", "failed", 1)
    assert "credentials refused" in str(error)
    ingests = query_warehouse(settings, "SELECT status, error FROM pipeline_runs "
                                        "WHERE pipeline = 'ingest'")  # fmt: skip
    assert len(ingests) == 1 and ingests[0][0] == "failed" and "mystery.csv" in str(ingests[0][1])
    # tried once, so failed without exhausting retries: the failure is alerted, not the retries
    assert [(a[0], a[1]) for a in _alerts(settings, "run:ticketmaster")] == [
        ("critical", "the run failed; see pipeline_runs.error")
    ]


def test_a_scheduled_tick_records_the_failed_api_and_alerts_it_once_per_input(
    tmp_path: Path, api: ReplayServer
) -> None:
    settings = _tm_settings(tmp_path, api)
    api.route(EVENTS, SERVER_ERROR)

    tick = PipelineScheduler(settings).tick()

    assert tick.status == "failed" and "ticketmaster" in (tick.error or "")
    [(source, status, attempts, _, _)] = _step_runs(settings)
    assert (source, status, attempts) == ("ticketmaster", "failed", 4)
    scheduled = _alerts(settings, "schedule")
    assert len(scheduled) == 1 and "input ticketmaster failed" in str(scheduled[0][1])
    assert _alerts(settings, "run:ticketmaster") == []  # the tick's alert, not a second one


ARTISTS = "artist_id,name,genre,popularity\nA1,Velvet Wolves,indie,40\n"


def test_a_run_that_loads_nothing_still_warns_that_the_data_is_stale(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENCORE_DATA_DIR", str(settings.data_dir))
    landing = settings.data_dir / "landing"
    landing.mkdir(parents=True)
    (landing / "artists.csv").write_text(ARTISTS)
    runner = CliRunner()
    loaded = runner.invoke(pipeline_app, ["run", "--no-apis"], terminal_width=200)
    assert loaded.exit_code == 0, loaded.output

    con = connect_writer(settings)  # as if its only load had been 8 days ago
    con.execute("UPDATE pipeline_runs SET started_at = started_at - INTERVAL 8 DAY, "
                "finished_at = finished_at - INTERVAL 8 DAY")  # fmt: skip
    con.close()

    idle = runner.invoke(pipeline_app, ["run", "--no-apis"], terminal_width=200)
    assert idle.exit_code == 0, idle.output  # stale data is a warning, not a failed run
    assert "no data changed, so only the freshness of the loads was checked: stale" in idle.output
    assert "pipeline_runs: loaded within the last 7 days (100.0% of 1)" in idle.output

    tool = start_pipeline_run(ToolContext(settings, role="admin"), confirm=True)
    assert tool.quality is not None
    checks = {c["name"]: c["passed"] for c in tool.quality["results"]}
    assert checks == {"loaded within the last 7 days": False}


def test_the_schedule_summary_reports_a_failed_model_refresh_as_failed_not_within_target(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.commands import schedule as schedule_command

    def broken(_: Settings) -> None:
        raise RuntimeError("model store unreachable")

    artists = frozenset({"artists"})
    refreshers = [Refresher("recommender", broken, artists),
                  Refresher("venue_ranking", lambda _: None, artists)]  # fmt: skip
    monkeypatch.setattr(schedule_command, "_refreshers", refreshers)
    monkeypatch.setenv("ENCORE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("COLUMNS", "250")  # the summary on one line
    landing = settings.data_dir / "landing"
    landing.mkdir(parents=True)
    (landing / "artists.csv").write_text(ARTISTS)

    done = CliRunner().invoke(pipeline_app, ["schedule", "--once", "--no-apis"],
                              terminal_width=250)  # fmt: skip

    assert done.exit_code == 1, done.output
    summary = done.output.strip().splitlines()[-1]
    assert summary.startswith("1 run(s), 1 failed, 1 model refresh(es)"), summary
    assert "refresh failed for recommender" in summary and "3.3 not met" in summary
    assert "within" not in summary


def test_an_api_step_whose_load_fails_is_failed_and_alerted_as_its_step_by_the_scheduler(
    tmp_path: Path, api: ReplayServer, shared_data: Path
) -> None:
    settings = _tm_settings(tmp_path, api)
    # the recorded page with every concert on an impossible date: all of them quarantined,
    # over the limit, so the concerts' load fails (films and games are skipped, not loaded)
    page = nock(shared_data, "event_all-200")
    page.body = copy.deepcopy(page.body)
    for event in page.body["_embedded"]["events"]:
        if skip_reason(event) is None:
            event["dates"]["start"]["localDate"] = "2016-02-30"
    api.route(EVENTS, page)

    tick = PipelineScheduler(settings).tick()

    [step] = [s for s in tick.steps if s.name == "ticketmaster"]
    assert (step.status, tick.status) == ("failed", "failed"), step.detail
    assert "load(s) failed (concerts:" in step.detail
    assert _step_runs(settings) == []  # the failed load is its ingest run's to record
    failed_loads = query_warehouse(
        settings, "SELECT entity FROM pipeline_runs WHERE pipeline = 'ingest' AND status = 'failed'"
    )
    assert failed_loads == [("concerts",)]
    # one input, whatever the name of the file its response was loaded from
    fingerprints = query_warehouse(
        settings, "SELECT fingerprint FROM alerts WHERE source = 'schedule'"
    )
    assert fingerprints == [("schedule input ticketmaster",)]
