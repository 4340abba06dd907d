"""The local monitor writes metrics and alerts to a real warehouse; the fan-out shields the run."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import duckdb
import pytest

from core.errors import WarehouseError
from core.settings import Settings
from core.warehouse import connect_writer, migrate, transaction
from pipelines.monitoring import (
    FanOutMonitor,
    LocalMonitor,
    Monitor,
    MonitoringError,
    evaluate_rules,
    record_run,
)


@pytest.fixture
def con(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = connect_writer(settings)
    yield connection
    connection.close()


@pytest.fixture
def local(con: duckdb.DuckDBPyConnection) -> LocalMonitor:
    return LocalMonitor(con)


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return con.execute(sql).fetchall()


def test_local_monitor_satisfies_the_protocol(local: LocalMonitor) -> None:
    assert isinstance(local, Monitor)


def test_metrics_land_in_pipeline_metrics(
    local: LocalMonitor, con: duckdb.DuckDBPyConnection
) -> None:
    local.metric("records_in", 1200, run_id="run-1", dimensions={"pipeline": "ingest"})
    local.metric("duration_s", 4.25, unit="seconds", run_id="run-1")
    rows = _rows(
        con, "SELECT run_id, name, value, unit, dimensions, recorded_at FROM pipeline_metrics"
    )
    assert sorted(r[:4] for r in rows) == [
        ("run-1", "duration_s", 4.25, "seconds"),
        ("run-1", "records_in", 1200.0, "count"),
    ]
    dims = {r[1]: json.loads(r[4]) for r in rows}
    assert dims == {"records_in": {"pipeline": "ingest"}, "duration_s": {}}
    assert all(r[5] is not None for r in rows)
    read_back = {m.name: m for m in local.metrics("run-1")}
    assert read_back["records_in"].dimensions == {"pipeline": "ingest"}
    assert read_back["duration_s"].unit == "seconds"
    assert read_back["duration_s"].recorded_at.tzinfo is not None


def test_alerts_land_in_alerts_and_are_logged(
    local: LocalMonitor, con: duckdb.DuckDBPyConnection, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="pipelines.monitoring"):
        critical = local.alert(
            "critical", "ingest", "the run failed", run_id="run-2", details={"step": "load"}
        )
        warning = local.alert("warning", "ingest", "slow run")
    assert re.fullmatch(r"[0-9a-f]{32}", critical)
    rows = _rows(
        con,
        "SELECT alert_id, severity, source, message, run_id, details, acknowledged FROM alerts "
        "ORDER BY severity",
    )
    assert [r[:5] for r in rows] == [
        (critical, "critical", "ingest", "the run failed", "run-2"),
        (warning, "warning", "ingest", "slow run", None),
    ]
    assert json.loads(rows[0][5]) == {"step": "load"}
    assert not rows[0][6]
    levels = {r.levelno for r in caplog.records if critical in r.getMessage()}
    assert levels == {logging.ERROR}
    assert any(r.levelno == logging.WARNING and warning in r.getMessage() for r in caplog.records)


def test_recent_alerts_newest_first_and_acknowledge(local: LocalMonitor) -> None:
    ids = [local.alert("warning", "ingest", f"alert {n}") for n in range(3)]
    recent = local.recent_alerts()
    assert [a.alert_id for a in recent] == ids[::-1]
    assert [a.message for a in local.recent_alerts(limit=2)] == ["alert 2", "alert 1"]

    local.acknowledge(ids[1])
    open_ids = [a.alert_id for a in local.recent_alerts(unacknowledged_only=True)]
    assert open_ids == [ids[2], ids[0]]
    assert {a.alert_id: a.acknowledged for a in local.recent_alerts()}[ids[1]] is True


def test_acknowledging_an_unknown_alert_says_so(local: LocalMonitor) -> None:
    with pytest.raises(MonitoringError, match="no alert with id 'nope'"):
        local.acknowledge("nope")


def test_metrics_and_alerts_roll_back_with_the_callers_transaction(
    local: LocalMonitor, con: duckdb.DuckDBPyConnection
) -> None:
    with pytest.raises(RuntimeError), transaction(con):
        local.metric("records_in", 10, run_id="run-3")
        local.alert("critical", "ingest", "about to fail", run_id="run-3")
        raise RuntimeError("load failed")
    assert _rows(con, "SELECT count(*) FROM pipeline_metrics") == [(0,)]
    assert _rows(con, "SELECT count(*) FROM alerts") == [(0,)]


def test_rules_evaluated_over_a_run_write_the_right_alerts(
    local: LocalMonitor, con: duckdb.DuckDBPyConnection
) -> None:
    run = {"records_in": 1000, "quarantine_rate": 0.08, "run_failed": 0, "duration_s": 12.0}
    ids = record_run(local, run, run_id="run-4", source="ingest")
    assert _rows(con, "SELECT count(*) FROM pipeline_metrics WHERE run_id = 'run-4'") == [(4,)]
    units = dict(_rows(con, "SELECT name, unit FROM pipeline_metrics"))
    assert units["quarantine_rate"] == "ratio"
    assert units["duration_s"] == "seconds"
    [alert] = local.recent_alerts()
    assert [alert.alert_id] == ids
    assert (alert.severity, alert.run_id, alert.details["rule"]) == (
        "warning",
        "run-4",
        "quarantine_rate-gt-0.05",
    )
    assert "8.0%" in alert.message

    healthy = {"records_in": 1000, "quarantine_rate": 0.01, "run_failed": 0}
    assert evaluate_rules(local, healthy, run_id="run-5", source="ingest") == []
    assert _rows(con, "SELECT count(*) FROM alerts") == [(1,)]


def test_an_unmigrated_warehouse_gives_a_warehouse_error(settings: Settings) -> None:
    con = connect_writer(settings, migrated=False)
    try:
        with pytest.raises(WarehouseError, match="is the warehouse migrated"):
            LocalMonitor(con).metric("records_in", 1)
    finally:
        con.close()


class BrokenMonitor:
    """A secondary whose backend is down: every call raises."""

    def __init__(self) -> None:
        self.calls = 0

    def _fail(self) -> Any:
        self.calls += 1
        raise ConnectionError("monitoring backend unreachable")

    def metric(self, name: str, value: float, **kw: Any) -> None:
        self._fail()

    def alert(self, severity: Any, source: str, message: str, **kw: Any) -> str:
        return str(self._fail())

    def resolve(self, *fingerprints: str, **kw: Any) -> list[str]:
        return list(self._fail())

    def recent_alerts(self, limit: int = 50, **kw: Any) -> list[Any]:
        return list(self._fail())

    def open_alerts(self, source: str | None = None) -> list[Any]:
        return list(self._fail())

    def acknowledge(self, alert_id: str) -> None:
        self._fail()

    def flush(self) -> None:
        self._fail()


def test_fan_out_survives_a_broken_secondary(
    local: LocalMonitor, con: duckdb.DuckDBPyConnection, caplog: pytest.LogCaptureFixture
) -> None:
    broken = BrokenMonitor()
    fan = FanOutMonitor(local, broken)
    with caplog.at_level(logging.WARNING, logger="pipelines.monitoring"):
        ids = record_run(fan, {"run_failed": 1, "records_in": 5}, run_id="run-6", source="ingest")
        fan.acknowledge(ids[0])
    assert broken.calls == 5  # two metrics, a flush, an alert, an acknowledgement
    assert _rows(con, "SELECT count(*) FROM pipeline_metrics") == [(2,)]
    assert [(a.alert_id, a.acknowledged) for a in fan.recent_alerts()] == [(ids[0], True)]
    failures = [r for r in caplog.records if "secondary monitor BrokenMonitor" in r.getMessage()]
    assert len(failures) == 5
    assert all(r.exc_info for r in failures)


def test_fan_out_gives_one_alert_the_same_id_everywhere(local: LocalMonitor) -> None:
    other_con = duckdb.connect()
    migrate(other_con)
    other = LocalMonitor(other_con)
    fan = FanOutMonitor(local, other)
    alert_id = fan.alert("critical", "stream", "consumer lag", details={"lag": 1200})
    assert [a.alert_id for a in other.recent_alerts()] == [alert_id]
    fan.acknowledge(alert_id)
    assert other.recent_alerts()[0].acknowledged


def test_fan_out_lets_a_failing_primary_fail(con: duckdb.DuckDBPyConnection) -> None:
    fan = FanOutMonitor(BrokenMonitor(), LocalMonitor(con))
    with pytest.raises(ConnectionError):
        fan.metric("records_in", 1)
