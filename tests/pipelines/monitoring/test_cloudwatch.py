"""The CloudWatch monitor against a real moto server: metrics, alert log events and alarms."""

from __future__ import annotations

import json
import logging
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.session
import duckdb
import pytest
from botocore.config import Config
from botocore.credentials import CredentialResolver
from botocore.exceptions import BotoCoreError, ClientError

from core.errors import ConfigError
from core.warehouse import migrate
from pipelines.monitoring import (
    DEFAULT_RULES,
    CloudWatchMonitor,
    FanOutMonitor,
    LocalMonitor,
    Monitor,
    MonitoringError,
    fingerprint_for,
    record_run,
)

from .conftest import REGION


def _stats(cloudwatch: Any, namespace: str, name: str, dims: dict[str, str] | None = None) -> Any:
    now = datetime.now(UTC)
    reply = cloudwatch.get_metric_statistics(
        Namespace=namespace,
        MetricName=name,
        Dimensions=[{"Name": k, "Value": v} for k, v in (dims or {}).items()],
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(minutes=5),
        Period=3600,
        Statistics=["Sum", "Maximum", "SampleCount"],
    )
    return reply["Datapoints"]


def _listed(cloudwatch: Any, namespace: str) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    metrics = cloudwatch.list_metrics(Namespace=namespace)["Metrics"]
    return {
        (m["MetricName"], tuple((d["Name"], d["Value"]) for d in m["Dimensions"])) for m in metrics
    }


def _log_messages(logs: Any, group: str) -> list[dict[str, Any]]:
    events = logs.filter_log_events(logGroupName=group)["events"]
    return [json.loads(e["message"]) for e in events]


class CountingClient:
    """Forwards to a real client and counts `put_metric_data` requests."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.batches: list[int] = []

    def put_metric_data(self, **kwargs: Any) -> Any:
        self.batches.append(len(kwargs["MetricData"]))
        return self.client.put_metric_data(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_cloudwatch_monitor_satisfies_the_protocol(monitor: CloudWatchMonitor) -> None:
    assert isinstance(monitor, Monitor)


def test_metrics_reach_cloudwatch_with_units_and_dimensions(
    monitor: CloudWatchMonitor, cloudwatch: Any, namespace: str
) -> None:
    dims = {"pipeline": "ingest", "source": "ticketmaster"}
    record_run(
        monitor,
        {"records_in": 1200, "quarantine_rate": 0.02, "duration_s": 4.5},
        run_id="run-1",
        source="ingest",
        dimensions=dims,
    )
    dim_key = (("pipeline", "ingest"), ("source", "ticketmaster"))
    assert _listed(cloudwatch, namespace) == {
        (name, key)
        for name in ("records_in", "quarantine_rate", "duration_s")
        for key in (dim_key, ())
    }
    [point] = _stats(cloudwatch, namespace, "duration_s", dims)
    assert (point["Maximum"], point["SampleCount"], point["Unit"]) == (4.5, 1.0, "Seconds")
    [point] = _stats(cloudwatch, namespace, "records_in", dims)
    assert (point["Sum"], point["Unit"]) == (1200.0, "Count")
    [point] = _stats(cloudwatch, namespace, "quarantine_rate", dims)
    assert (point["Maximum"], point["Unit"]) == (0.02, "None")


def test_metrics_are_sent_in_batches(moto_url: str, cloudwatch: Any, namespace: str) -> None:
    counting = CountingClient(cloudwatch)
    with CloudWatchMonitor(namespace, client=counting, endpoint_url=moto_url, batch_size=2) as cw:
        for n in range(5):
            cw.metric("records_in", n)
        assert counting.batches == [2, 2]  # full batches go at once, the rest waits
        cw.metric("broken", float("nan"))  # CloudWatch would reject the whole batch for it
    assert counting.batches == [2, 2, 1]
    [point] = _stats(cloudwatch, namespace, "records_in")
    assert (point["SampleCount"], point["Sum"]) == (5.0, 10.0)
    assert ("broken", ()) not in _listed(cloudwatch, namespace)


def test_bad_dimensions_are_refused_with_what_to_fix(monitor: CloudWatchMonitor) -> None:
    with pytest.raises(MonitoringError, match=r"non-empty names and values; fix \['venue'\]"):
        monitor.metric("records_in", 1, dimensions={"venue": ""})
    with pytest.raises(MonitoringError, match="30 dimensions"):
        monitor.metric("records_in", 1, dimensions={f"d{n}": "x" for n in range(31)})


def test_alerts_become_log_events_and_critical_ones_a_metric(
    monitor: CloudWatchMonitor, logs: Any, cloudwatch: Any, namespace: str
) -> None:
    critical = monitor.alert(
        "critical", "ingest", "the run failed", run_id="run-2", details={"step": "load"}
    )
    warning = monitor.alert("warning", "ingest", "slow run")
    group = monitor.log_group
    assert [
        g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    ] == [group]
    [stream] = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert stream["logStreamName"] == datetime.now(UTC).strftime("%Y/%m/%d")
    events = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"])
    assert len(events["events"]) == 2
    by_id = {m["alert_id"]: m for m in _log_messages(logs, group)}
    assert by_id[critical]["severity"] == "critical"
    assert by_id[critical]["run_id"] == "run-2"
    assert by_id[critical]["details"] == {"step": "load"}
    assert by_id[warning]["message"] == "slow run"
    assert _listed(cloudwatch, namespace) == {("AlertsRaised", (("severity", "critical"),))}
    [point] = _stats(cloudwatch, namespace, "AlertsRaised", {"severity": "critical"})
    assert point["Sum"] == 1.0


def test_recent_alerts_and_acknowledge_from_the_log(monitor: CloudWatchMonitor, logs: Any) -> None:
    assert monitor.recent_alerts() == []  # no group yet: nothing raised, not an error
    first = monitor.alert("warning", "ingest", "first")
    second = monitor.alert("critical", "stream", "second", run_id="run-3")
    assert [a.alert_id for a in monitor.recent_alerts()] == [second, first]
    assert monitor.recent_alerts()[0].run_id == "run-3"
    monitor.acknowledge(first)
    assert [a.alert_id for a in monitor.recent_alerts(unacknowledged_only=True)] == [second]
    assert [m["event"] for m in _log_messages(logs, monitor.log_group)] == [
        "alert",
        "alert",
        "acknowledged",
    ]
    with pytest.raises(MonitoringError, match="no alert with id 'nope'"):
        monitor.acknowledge("nope")


def test_a_deleted_log_group_is_made_again(monitor: CloudWatchMonitor, logs: Any) -> None:
    monitor.alert("info", "ingest", "before")
    logs.delete_log_group(logGroupName=monitor.log_group)
    after = monitor.alert("warning", "ingest", "after")
    assert [a.alert_id for a in monitor.recent_alerts()] == [after]


def test_rules_become_alarms(monitor: CloudWatchMonitor, cloudwatch: Any, namespace: str) -> None:
    pager = "arn:aws:sns:us-east-1:123456789012:encore-pager"
    names = monitor.ensure_alarms(DEFAULT_RULES, actions={"critical": [pager]})
    assert monitor.ensure_alarms(DEFAULT_RULES, actions={"critical": [pager]}) == names
    alarms = {
        a["AlarmName"]: a
        for a in cloudwatch.describe_alarms(AlarmNamePrefix=f"{namespace}/")["MetricAlarms"]
    }
    assert sorted(alarms) == sorted(names)
    assert len(alarms) == len(DEFAULT_RULES)
    warn = alarms[f"{namespace}/quarantine_rate-gt-0.05"]
    assert (warn["MetricName"], warn["Threshold"], warn["ComparisonOperator"]) == (
        "quarantine_rate",
        0.05,
        "GreaterThanThreshold",
    )
    assert (warn["Statistic"], warn["TreatMissingData"], warn["Dimensions"]) == (
        "Maximum",
        "notBreaching",
        [],
    )
    assert warn["AlarmActions"] == []
    failed = alarms[f"{namespace}/run_failed-ge-1"]
    assert failed["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert failed["AlarmActions"] == [pager]
    assert failed["ActionsEnabled"] is True
    tags = cloudwatch.list_tags_for_resource(ResourceARN=failed["AlarmArn"])["Tags"]
    assert {"Key": "severity", "Value": "critical"} in tags


def test_alarms_for_one_pipeline_watch_its_dimensions(
    monitor: CloudWatchMonitor, cloudwatch: Any, namespace: str
) -> None:
    [name] = monitor.ensure_alarms(DEFAULT_RULES[2:3], dimensions={"pipeline": "stream"})
    assert name == f"{namespace}/run_failed-ge-1 pipeline=stream"
    [alarm] = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert alarm["Dimensions"] == [{"Name": "pipeline", "Value": "stream"}]


def test_service_errors_become_monitoring_errors(moto_url: str) -> None:
    bad = CloudWatchMonitor(endpoint_url=moto_url, log_group="/" + "x" * 600)
    with pytest.raises(MonitoringError) as caught:
        bad.alert("critical", "ingest", "lost?")
    assert caught.value.detail["code"] == "InvalidParameterException"
    assert isinstance(caught.value.__cause__, ClientError)


def test_an_unreachable_endpoint_becomes_a_monitoring_error(moto_url: str) -> None:
    quick = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=1)
    url = f"http://127.0.0.1:{_closed_port()}"
    client = boto3.client("cloudwatch", region_name=REGION, endpoint_url=url, config=quick)
    down = CloudWatchMonitor(client=client, endpoint_url=url)
    down.metric("records_in", 1)
    with pytest.raises(MonitoringError, match="cannot send 1 metric") as caught:
        down.flush()
    assert caught.value.detail["dropped"] == 1
    assert isinstance(caught.value.__cause__, BotoCoreError)


def test_missing_credentials_become_a_config_error(moto_url: str) -> None:
    # A session whose credential chain is empty, whatever the machine running the tests has.
    session = botocore.session.get_session()
    session.register_component("credential_provider", CredentialResolver(providers=[]))
    client = boto3.Session(botocore_session=session).client(
        "cloudwatch", region_name=REGION, endpoint_url=moto_url
    )
    anonymous = CloudWatchMonitor(client=client, endpoint_url=moto_url)
    anonymous.metric("records_in", 1)
    with pytest.raises(ConfigError, match="no AWS credentials"):
        anonymous.flush()


def test_fan_out_to_local_and_a_dead_cloudwatch_keeps_the_run_going(
    caplog: pytest.LogCaptureFixture, moto_url: str
) -> None:
    con = duckdb.connect()
    migrate(con)
    quick = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=1)
    url = f"http://127.0.0.1:{_closed_port()}"
    dead = CloudWatchMonitor(
        client=boto3.client("cloudwatch", region_name=REGION, endpoint_url=url, config=quick),
        logs_client=boto3.client("logs", region_name=REGION, endpoint_url=url, config=quick),
    )
    fan = FanOutMonitor(LocalMonitor(con), dead)
    with caplog.at_level(logging.WARNING, logger="pipelines.monitoring"):
        [alert_id] = record_run(fan, {"run_failed": 1}, run_id="run-9", source="ingest")
    assert con.execute("SELECT alert_id FROM alerts").fetchall() == [(alert_id,)]
    assert con.execute("SELECT count(*) FROM pipeline_metrics").fetchall() == [(1,)]
    assert any("secondary monitor CloudWatchMonitor" in r.getMessage() for r in caplog.records)


def test_alerts_raised_counts_new_alerts_and_repeats_apart(
    monitor: CloudWatchMonitor, cloudwatch: Any, namespace: str
) -> None:
    # as the aws profile runs it: the warehouse first, CloudWatch beside it
    con = duckdb.connect()
    migrate(con)
    fan = FanOutMonitor(LocalMonitor(con), monitor)
    failed, dims = {"run_failed": 1.0}, {"pipeline": "ingest", "entity": "venues"}
    for run in ("r1", "r2", "r3"):  # one problem seen by three runs
        record_run(fan, failed, run_id=run, source="ingest:crm", dimensions=dims)
    monitor.alert("critical", "ingest:crm", "again, straight to CloudWatch",
                  fingerprint=fingerprint_for("ingest:crm", "run_failed", dims))  # fmt: skip
    record_run(fan, {"run_failed": 0.0}, run_id="r4", source="ingest:crm", dimensions=dims)
    record_run(fan, failed, run_id="r5", source="ingest:crm", dimensions=dims)  # news again

    # a problem that grows worse is news too: 10% quarantined warns, 30% is critical
    for run, rate in (("r6", 0.1), ("r7", 0.3)):
        record_run(fan, {"quarantine_rate": rate}, run_id=run, source="ingest:crm")

    critical = {"severity": "critical"}
    [raised] = _stats(cloudwatch, namespace, "AlertsRaised", critical)
    assert raised["Sum"] == 3.0  # r1's alert, r5's and r7's, not every run that saw a problem
    [repeated] = _stats(cloudwatch, namespace, "AlertRepeats", critical)
    assert repeated["Sum"] == 3.0
