"""One problem is one alert: logged once through a fan-out, and not opened again by CloudWatch
while its log has not caught up with what the monitor just wrote."""

from __future__ import annotations

import logging
from typing import Any

import duckdb
import pytest

from core.warehouse import migrate
from pipelines.monitoring import CloudWatchMonitor, FanOutMonitor, LocalMonitor, record_run

from .alert_reads import critical_sum

FAILED = {"run_failed": 1.0}


def _local() -> LocalMonitor:
    con = duckdb.connect()
    migrate(con)
    return LocalMonitor(con)


def _alert_lines(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno == level and "alert" in r.getMessage()]  # fmt: skip


def test_a_fan_out_logs_a_new_alert_once_and_a_repeat_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fan = FanOutMonitor(_local(), _local())
    with caplog.at_level(logging.INFO, logger="pipelines.monitoring"):
        [first] = record_run(fan, FAILED, run_id="r1", source="ingest")
        [again] = record_run(fan, FAILED, run_id="r2", source="ingest")
    assert again == first
    [opened] = _alert_lines(caplog, logging.ERROR)
    assert first in opened and "critical" in opened
    [still] = [m for m in _alert_lines(caplog, logging.INFO) if "still open" in m]
    assert first in still
    # both monitors hold the alert, with both occurrences
    assert [(a.alert_id, a.occurrences) for a in fan.secondaries[0].open_alerts()] == [(first, 2)]


class LaggingLogs:
    """CloudWatch Logs as AWS serves it: an event written is readable only some time later
    (here: when the test calls `catch_up`)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.held: list[dict[str, Any]] = []

    def put_log_events(self, **kwargs: Any) -> dict[str, Any]:
        self.held.append(kwargs)
        return {}

    def catch_up(self) -> None:
        for kwargs in self.held:
            self.client.put_log_events(**kwargs)
        self.held.clear()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def test_cloudwatch_counts_a_repeat_as_a_repeat_before_its_log_catches_up(
    cloudwatch: Any, logs: Any, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    lagging = LaggingLogs(logs)
    cloud = CloudWatchMonitor(namespace, client=cloudwatch, logs_client=lagging,
                              log_group=f"/{namespace}/alerts")  # fmt: skip
    fan = FanOutMonitor(_local(), cloud)
    dims = {"pipeline": "ingest"}
    with caplog.at_level(logging.INFO, logger="pipelines.monitoring"):
        [first] = record_run(fan, FAILED, run_id="r1", source="ingest", dimensions=dims)
        [again] = record_run(fan, FAILED, run_id="r2", source="ingest", dimensions=dims)
        record_run(fan, {"run_failed": 0.0}, run_id="r3", source="ingest", dimensions=dims)
    assert again == first
    assert len(_alert_lines(caplog, logging.ERROR)) == 1  # the local monitor's, not CloudWatch's
    assert (critical_sum(cloudwatch, namespace, "AlertsRaised"),
            critical_sum(cloudwatch, namespace, "AlertRepeats")) == (1.0, 1.0)  # fmt: skip
    assert cloud.open_alerts() == []  # r3 resolved it in CloudWatch too
    # the log has every event once it catches up, and reads the same from a fresh monitor
    assert len(lagging.held) == 3
    lagging.catch_up()
    for monitor in (cloud, CloudWatchMonitor(namespace, client=cloudwatch, logs_client=logs,
                                             log_group=f"/{namespace}/alerts")):  # fmt: skip
        [alert] = monitor.recent_alerts()
        assert (alert.alert_id, alert.occurrences) == (first, 2) and alert.resolved_at
    assert cloud.alert_log._unread == {}  # what the log serves is not kept twice
