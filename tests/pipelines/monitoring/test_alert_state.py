"""One open alert per ongoing problem: repeats are counted, recovery resolves it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import duckdb
import pytest

from core.settings import Settings
from core.warehouse import connect_writer, migrate
from pipelines.monitoring import FanOutMonitor, LocalMonitor, fingerprint_for, record_run
from pipelines.monitoring.cloudwatch import CloudWatchMonitor
from tests.pipelines.monitoring.test_cloudwatch import _log_messages


@pytest.fixture
def con(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = connect_writer(settings)
    yield connection
    connection.close()


def _alerts(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    return con.execute(
        "SELECT source, severity, occurrences, run_id, resolved_at IS NULL AS open, "
        "raised_at <= last_seen_at FROM alerts ORDER BY raised_at"
    ).fetchall()


def test_a_failing_pipeline_keeps_one_open_alert_until_a_run_succeeds(
    con: duckdb.DuckDBPyConnection,
) -> None:
    local = LocalMonitor(con)
    dims = {"pipeline": "ingest", "entity": "venues"}
    failed = {"run_failed": 1.0, "quarantine_rate": 0.0}
    first = record_run(local, failed, run_id="r1", source="ingest:crm", dimensions=dims)
    again = record_run(local, failed, run_id="r2", source="ingest:crm", dimensions=dims)
    assert again == first
    assert _alerts(con) == [("ingest:crm", "critical", 2, "r2", True, True)]
    # another pipeline's failure is another problem
    record_run(local, failed, run_id="r3", source="ingest:crm", dimensions={"entity": "artists"})
    assert len(local.open_alerts()) == 2

    record_run(local, {"run_failed": 0.0}, run_id="r4", source="ingest:crm", dimensions=dims)
    [still_open] = local.open_alerts()
    assert still_open.run_id == "r3"
    [resolved] = [a for a in local.recent_alerts() if not a.is_open]
    assert (resolved.alert_id, resolved.occurrences) == (first[0], 2)
    assert resolved.details["resolved_by_run"] == "r4"
    assert resolved.fingerprint == fingerprint_for("ingest:crm", "run_failed", dims)

    # failing again after the recovery is news: a new alert
    later = record_run(local, failed, run_id="r5", source="ingest:crm", dimensions=dims)
    assert later != first and len(local.open_alerts("ingest:crm")) == 2


def test_alerts_without_a_fingerprint_stay_one_off(con: duckdb.DuckDBPyConnection) -> None:
    local = LocalMonitor(con)
    ids = {local.alert("warning", "model:sales", "drifted") for _ in range(2)}
    assert len(ids) == 2 and local.resolve("model:sales") == []
    assert len(local.open_alerts("model:sales")) == 2


def test_fan_out_keeps_the_open_alerts_id_and_resolves_everywhere(
    con: duckdb.DuckDBPyConnection,
) -> None:
    other_con = duckdb.connect()
    migrate(other_con)
    other = LocalMonitor(other_con)
    fan = FanOutMonitor(LocalMonitor(con), other)
    first = fan.alert("critical", "schedule", "files failing", fingerprint="schedule files")
    again = fan.alert("critical", "schedule", "files failing", fingerprint="schedule files")
    assert again == first
    assert [(a.alert_id, a.occurrences) for a in other.open_alerts()] == [(first, 2)]
    assert fan.resolve("schedule files", run_id="r9") == [first]
    assert other.open_alerts() == [] and fan.open_alerts() == []


def test_cloudwatch_folds_repeats_and_resolutions_from_the_log(
    monitor: CloudWatchMonitor, logs: Any
) -> None:
    first = monitor.alert("critical", "schedule", "files failing", fingerprint="schedule files")
    again = monitor.alert("critical", "schedule", "files still failing",
                          fingerprint="schedule files")  # fmt: skip
    assert again == first
    [open_alert] = monitor.open_alerts("schedule")
    assert (open_alert.occurrences, open_alert.message) == (2, "files still failing")
    assert monitor.resolve("schedule files", "nothing open") == [first]
    assert monitor.open_alerts() == [] and monitor.resolve("schedule files") == []
    [alert] = monitor.recent_alerts()
    assert alert.resolved_at is not None and alert.occurrences == 2
    events = [m["event"] for m in _log_messages(logs, monitor.log_group)]
    assert events == ["alert", "alert", "resolved"]


def test_scoped_alerts_are_per_input_and_close_older_unscoped_ones(
    con: duckdb.DuckDBPyConnection,
) -> None:
    local = LocalMonitor(con)
    dims = {"pipeline": "ingest", "entity": "venues"}
    failed = {"run_failed": 1.0}
    legacy = record_run(local, failed, run_id="r0", source="ingest:crm", dimensions=dims)
    [bad] = record_run(local, failed, run_id="r1", source="ingest:crm", dimensions=dims,
                       scope={"input": "/in/a.csv"})  # fmt: skip
    assert [bad] != legacy
    record_run(local, {"run_failed": 0.0}, run_id="r2", source="ingest:crm", dimensions=dims,
               scope={"input": "/in/b.csv"})  # fmt: skip
    [still_open] = local.open_alerts()
    assert still_open.alert_id == bad  # b.csv's success says nothing about a.csv
    assert still_open.fingerprint == fingerprint_for(
        "ingest:crm", "run_failed", {**dims, "input": "/in/a.csv"}
    )
    # the metric itself is not split per input
    assert {m.dimensions["entity"] for m in local.metrics("r1")} == {"venues"}
    assert all("input" not in m.dimensions for m in local.metrics("r1"))
