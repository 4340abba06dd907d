"""`encore pipeline schedule`: runs on a trigger, one at a time, models refreshed after new data."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.triggers.interval import IntervalTrigger
from typer.testing import CliRunner

from core.errors import ConfigError
from core.settings import Settings
from models.recommend import train as train_recommender
from models.registry import ModelRegistry
from pipelines.schedule import (
    PipelineScheduler,
    Refresher,
    Tick,
    build_trigger,
    parse_every,
    recent_refreshes,
)
from tests.conftest import copy_warehouse, query_warehouse

GOOD_ARTISTS = "artist_id,name,genre\nA1,The Velvet Wolves,indie\nA2,Paper Lanterns,folk\n"
BAD_ARTISTS = "artist_id,name,popularity\nB1,Loud One,500\nB2,Loud Two,900\n"  # over 100: refused


def _wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _serve_in_thread(
    scheduler: PipelineScheduler, stop: threading.Event, **kwargs: object
) -> threading.Thread:
    thread = threading.Thread(
        target=scheduler.serve, args=(IntervalTrigger(seconds=0.2),),
        kwargs={"stop": stop, **kwargs}, daemon=True,
    )  # fmt: skip
    thread.start()
    return thread


def _landing(settings: Settings) -> Path:
    folder = settings.data_dir / "landing"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("15m", 900), ("2h", 7200),
                                               ("1d", 86400), (" 90 sec ", 90)])  # fmt: skip
def test_intervals_are_read_with_their_unit(text: str, seconds: int) -> None:
    assert parse_every(text).total_seconds() == seconds


def test_the_default_is_every_15_minutes_and_cron_lines_are_read() -> None:
    assert build_trigger().interval.total_seconds() == 900  # half of requirement 3.3's budget
    assert "minute='*/15'" in str(build_trigger(cron="*/15 * * * *"))


@pytest.mark.parametrize(("every", "cron", "message"), [
    ("15", None, "write e.g. 30s, 15m or 2h"),
    ("0s", None, "under one second"),
    ("5m", "*/5 * * * *", "not both"),
    (None, "every five minutes", "five fields"),
])  # fmt: skip
def test_bad_schedules_say_what_to_write(every: str | None, cron: str | None, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_trigger(every, cron)


def test_a_dropped_file_is_loaded_and_the_recommender_refreshed(
    small_warehouse: Settings, tmp_path: Path
) -> None:
    settings = copy_warehouse(small_warehouse, tmp_path)
    train_recommender(settings)  # trained after the build: nothing to refresh yet
    concert, *_ = query_warehouse(
        settings, "SELECT concert_id FROM concerts WHERE status = 'completed' LIMIT 1"
    )[0]
    fans = [r[0] for r in query_warehouse(settings, "SELECT fan_id FROM fans LIMIT 3")]
    recommender = Refresher(
        "recommender", train_recommender, frozenset({"ticket_sales", "fans"}),
        lambda s: (m.trained_at if (m := ModelRegistry(s).current("recommender")) else None),
    )  # fmt: skip
    scheduler = PipelineScheduler(settings, use_apis=False, refreshers=[recommender])
    stop = threading.Event()
    thread = _serve_in_thread(scheduler, stop)
    _wait_for(lambda: len(scheduler.ticks) >= 1, "the first run")

    rows = "".join(f"NEW{i},{concert},{fan},2026-10-20 10:00:00,web,general,2,30.00,60.00\n"
                   for i, fan in enumerate(fans))  # fmt: skip
    (_landing(settings) / "sales.csv").write_text(
        "sale_id,concert_id,fan_id,sold_at,channel,price_tier,quantity,unit_price,amount\n" + rows
    )
    _wait_for(lambda: any(t.refreshes for t in scheduler.ticks), "a refresh")
    refreshed_at = next(i for i, t in enumerate(scheduler.ticks) if t.refreshes)
    _wait_for(lambda: len(scheduler.ticks) > refreshed_at + 1, "a run after the refresh")
    stop.set()
    thread.join(timeout=30)
    assert not thread.is_alive()

    ticks = scheduler.ticks
    assert not ticks[0].refreshes  # no new data, no retraining
    tick = ticks[refreshed_at]
    assert tick.status == "succeeded" and tick.records[1] == len(fans)
    assert [(r.name, r.status) for r in tick.refreshes] == [("recommender", "done")]
    assert not any(t.refreshes for t in ticks[refreshed_at + 1 :])  # once per new data
    assert len(ModelRegistry(settings).versions("recommender")) == 2
    assert query_warehouse(settings, "SELECT count(*) FROM ticket_sales WHERE sale_id "
                                     "LIKE 'NEW%'")[0][0] == len(fans)  # fmt: skip

    from core.warehouse import reading

    with reading(settings) as con:
        refreshes = recent_refreshes(con)
        lag = con.execute(
            "SELECT value FROM pipeline_metrics WHERE name = 'freshness_lag_s' AND run_id = ?",
            [tick.refreshes[0].run_id],
        ).fetchall()
    assert [(r["model"], r["status"]) for r in refreshes] == [("recommender", "succeeded")]
    assert refreshes[0]["run_id"] == tick.refreshes[0].run_id
    assert refreshes[0]["seconds"] >= 0 and refreshes[0]["lag_s"] == lag[0][0] >= 0


def test_runs_never_overlap(settings: Settings) -> None:
    (_landing(settings) / "artists.csv").write_text(GOOD_ARTISTS)
    gate = threading.Event()
    inside = threading.Event()

    def slow(_: Settings) -> None:
        inside.set()
        gate.wait(timeout=20)

    slow_refresher = Refresher("slow", slow, frozenset({"artists"}))
    scheduler = PipelineScheduler(settings, use_apis=False, refreshers=[slow_refresher])
    stop = threading.Event()
    thread = _serve_in_thread(scheduler, stop, max_runs=2)
    _wait_for(inside.is_set, "the refresh to start")
    _wait_for(lambda: scheduler.overlaps >= 1, "a firing while the run is going")
    assert scheduler.tick().status == "skipped"  # a direct call waits its turn too
    gate.set()
    thread.join(timeout=30)
    assert not thread.is_alive()

    ran = [t for t in scheduler.ticks if t.status != "skipped"]
    assert len(ran) == 2
    spans = query_warehouse(
        settings,
        "SELECT started_at, finished_at FROM pipeline_runs "
        "WHERE pipeline = 'schedule' ORDER BY started_at",
    )
    assert len(spans) == 2
    assert spans[0][1] <= spans[1][0]  # the second began after the first ended


def test_a_failing_input_is_alerted_once_while_it_fails_and_resolved_when_it_recovers(
    settings: Settings,
) -> None:
    landing = _landing(settings)
    (landing / "artists.csv").write_text(GOOD_ARTISTS)
    (landing / "bad-artists.csv").write_text(BAD_ARTISTS)
    store = {"reachable": False}

    def flaky(_: Settings) -> None:
        if not store["reachable"]:
            raise RuntimeError("model store unreachable")

    def not_yet(_: Settings) -> None:
        raise ConfigError("no ticket sales yet; load sales first")

    seen: list[Tick] = []
    refreshers = [Refresher("flaky", flaky), Refresher("not_yet", not_yet)]
    scheduler = PipelineScheduler(settings, use_apis=False, on_tick=seen.append,
                                  refreshers=refreshers)  # fmt: skip
    ticks = scheduler.serve(IntervalTrigger(seconds=0.2), max_runs=3)

    assert [t.status for t in ticks] == ["failed"] * 3 and seen == ticks
    assert "files:" in (ticks[0].error or "") and "bad-artists.csv" in (ticks[0].error or "")
    # a failed refresh is tried again at the next run; one that cannot be built from this data
    # yet waits for the next load of its data
    refreshes = [[(r.name, r.status) for r in t.refreshes] for t in ticks]
    first_run, *later_runs = refreshes
    assert first_run == [("flaky", "failed"), ("not_yet", "skipped")]
    assert later_runs == [[("flaky", "failed")]] * 2
    # three failing runs: one open alert per failing input, not one per run
    alerts = query_warehouse(settings, "SELECT source, occurrences, run_id, message FROM alerts "
                                       "WHERE severity = 'critical' AND resolved_at IS NULL "
                                       "AND source IN ('schedule', 'refresh:flaky')")  # fmt: skip
    by_source = {a[0]: a for a in alerts}
    assert len(alerts) == 2 and set(by_source) == {"schedule", "refresh:flaky"}
    assert by_source["schedule"][1:3] == (3, ticks[-1].run_id)
    assert "input files:bad-artists.csv failed" in by_source["schedule"][3]
    assert by_source["refresh:flaky"][1] == 3
    ingest = query_warehouse(
        settings,
        "SELECT occurrences FROM alerts WHERE message LIKE 'the run failed%' "
        "AND source = 'ingest:landing'",
    )
    assert ingest == [(3,)]  # the file's own load alerts are one open alert too
    assert query_warehouse(settings, "SELECT count(*) FROM artists")[0][0] == 2  # good file kept

    # the file is fixed and the store is back: the next run resolves both alerts
    (landing / "bad-artists.csv").write_text("artist_id,name\nB1,Loud One\n")
    store["reachable"] = True
    recovered = scheduler.tick()
    assert recovered.status == "succeeded", recovered.error
    still_open = query_warehouse(settings, "SELECT source, message FROM alerts "
                                           "WHERE resolved_at IS NULL")  # fmt: skip
    assert still_open == [], still_open
    closed = query_warehouse(settings, "SELECT details->>'resolved_by_run' FROM alerts "
                                       "WHERE source = 'schedule'")  # fmt: skip
    assert closed == [(recovered.run_id,)]


def test_cli_runs_a_bounded_schedule_and_shows_it_in_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.cli import app

    monkeypatch.setenv("ENCORE_DATA_DIR", str(tmp_path / "encore"))
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    done = runner.invoke(app, ["pipeline", "schedule", "--every", "1s", "--max-runs", "2",
                               "--no-apis"])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "every 1s" in done.output and "refreshes recommender, venue_ranking" in done.output
    assert "run 2 succeeded" in done.output and "2 run(s), 0 failed" in done.output

    bad = runner.invoke(app, ["pipeline", "schedule", "--every", "15"])
    assert bad.exit_code == 2 and "15m" in bad.output

    status = runner.invoke(app, ["pipeline", "status"])
    assert status.exit_code == 0, status.output
    assert "schedule" in status.output and "no model refreshes yet" in status.output


def test_sigterm_stops_the_schedule_after_the_current_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.cli import app

    monkeypatch.setenv("ENCORE_DATA_DIR", str(tmp_path / "encore"))
    before = signal.getsignal(signal.SIGTERM)
    timer = threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        done = CliRunner().invoke(app, ["pipeline", "schedule", "--every", "1h", "--no-apis"])
    finally:
        timer.cancel()
    assert done.exit_code == 0, done.output
    assert "stopping after the current run" in done.output and "1 run(s)" in done.output
    assert signal.getsignal(signal.SIGTERM) == before  # handlers restored


def test_status_json_lists_the_model_refreshes_as_the_table_does(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.cli import app

    (_landing(settings) / "artists.csv").write_text(GOOD_ARTISTS)
    noop = Refresher("noop", lambda _: None, frozenset({"artists"}))
    tick = PipelineScheduler(settings, use_apis=False, refreshers=[noop]).tick()
    [refresh] = tick.refreshes
    monkeypatch.setenv("ENCORE_DATA_DIR", str(settings.data_dir))
    done = CliRunner().invoke(app, ["pipeline", "status", "--json"])
    assert done.exit_code == 0, done.output
    status = json.loads(done.output)
    assert {r["pipeline"] for r in status["runs"]} == {"schedule", "ingest", "refresh"}
    [shown] = status["refreshes"]
    assert (shown["model"], shown["status"], shown["run_id"]) == ("noop", "succeeded",
                                                                  refresh.run_id)  # fmt: skip
    started = datetime.fromisoformat(shown["started_at"])
    assert started.tzinfo is not None  # the ledger's UTC, said in the text
    assert abs(datetime.now(UTC) - started) < timedelta(minutes=10)
    assert shown["seconds"] >= 0 and shown["lag_s"] >= 0
