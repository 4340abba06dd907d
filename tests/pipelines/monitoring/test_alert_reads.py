"""A run reads what it needs of the CloudWatch alert log, not the whole log: as few events with
60 old alerts as with 6, and the same alert lifecycle (raised once while open, resolved by the
next healthy run, opened again after that)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from pipelines.monitoring import CloudWatchMonitor, fingerprint_for, record_run
from pipelines.monitoring.base import utc_now
from pipelines.monitoring.cloudwatch_streams import FINGERPRINT_STREAMS_TAG, fingerprint_stream

from .alert_reads import DIMS, CountingLogs, critical_sum, seed_old_alerts
from .test_alert_once import LaggingLogs

HEALTHY = {"quarantine_rate": 0.01, "retries_exhausted": 0.0, "duration_s": 12.0}
RUN_FAILED = fingerprint_for("ingest:crm", "run_failed", DIMS)


def _runs(cloudwatch: Any, logs: Any, namespace: str, old: int) -> list[tuple[int, int]]:
    """Fail, fail again, recover, fail again with `old` alerts in the log, each run a fresh
    monitor (a new process); check the lifecycle and return each run's (reads, events read)."""
    group = f"/{namespace}/alerts"
    seeder = CloudWatchMonitor(namespace, client=cloudwatch, logs_client=logs, log_group=group)
    seed_old_alerts(seeder, old)
    ids, reads = [], []
    for n, failed in enumerate((1.0, 1.0, 0.0, 1.0)):
        counting = CountingLogs(logs)
        monitor = CloudWatchMonitor(namespace, client=cloudwatch, logs_client=counting,
                                    log_group=group)  # fmt: skip
        ids.append(record_run(monitor, {**HEALTHY, "run_failed": failed}, run_id=f"r{n}",
                              source="ingest:crm", dimensions=DIMS))  # fmt: skip
        reads.append((counting.reads, counting.events_read))
    [first], again, healthy, [after] = ids
    assert again == [first] and healthy == [] and after != first
    assert (critical_sum(cloudwatch, namespace, "AlertsRaised"),
            critical_sum(cloudwatch, namespace, "AlertRepeats")) == (2.0, 1.0)  # fmt: skip
    fresh = CloudWatchMonitor(namespace, client=cloudwatch, logs_client=logs, log_group=group)
    [still_open] = fresh.open_alerts("ingest:crm")
    assert (still_open.alert_id, still_open.fingerprint) == (after, RUN_FAILED)
    [closed] = [a for a in fresh.recent_alerts(old + 5) if a.alert_id == first]
    assert (closed.occurrences, closed.resolved_at is not None) == (2, True)
    return reads


def test_a_runs_reads_do_not_grow_with_the_log(cloudwatch: Any, logs: Any, namespace: str) -> None:
    few = _runs(cloudwatch, logs, f"{namespace}/few", old=6)
    many = _runs(cloudwatch, logs, f"{namespace}/many", old=60)
    assert many == few
    # the last event of the failing fingerprint at most; the fingerprints that never alerted
    # have no stream to read
    assert all(events <= 1 for _, events in many), many


def _legacy_log(logs: Any, group: str) -> tuple[str, str]:
    """The log as the monitor wrote it before fingerprint streams: every event in the day's
    stream, the group untagged. legacy-0 (RUN_FAILED) and legacy-1 are open, legacy-2 resolved;
    returns the fingerprints of legacy-1 and legacy-2."""
    other, gone = (fingerprint_for("ingest:crm", "run_failed", {**DIMS, "input": f"/in/{name}"})
                   for name in ("b.csv", "c.csv"))  # fmt: skip
    start = utc_now() - timedelta(hours=3)
    events: list[dict[str, Any]] = [
        {"event": "alert", "alert_id": f"legacy-{n}", "severity": "critical",
         "source": "ingest:crm", "message": "failed", "run_id": f"old-{n}", "details": {},
         "fingerprint": fingerprint, "raised_at": (start + timedelta(minutes=n)).isoformat()}
        for n, fingerprint in enumerate((RUN_FAILED, other, gone))
    ]  # fmt: skip
    events.append({"event": "resolved", "fingerprints": [gone, "nothing open"], "run_id": "old-9",
                   "at": (start + timedelta(minutes=9)).isoformat()})  # fmt: skip
    day = datetime.now(UTC).strftime("%Y/%m/%d")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=day)
    stamps = [datetime.fromisoformat(e.get("raised_at") or e["at"]) for e in events]
    logs.put_log_events(logGroupName=group, logStreamName=day, logEvents=[
        {"timestamp": int(at.timestamp() * 1000), "message": json.dumps(e)}
        for at, e in zip(stamps, events, strict=True)
    ])  # fmt: skip
    return other, gone


def test_alerts_opened_before_fingerprint_streams_are_carried_over_once(
    cloudwatch: Any, logs: Any, namespace: str
) -> None:
    group = f"/{namespace}/alerts"
    other, gone = _legacy_log(logs, group)

    def run(failed: float, run_id: str) -> tuple[list[str], CountingLogs]:
        counting = CountingLogs(logs)
        monitor = CloudWatchMonitor(namespace, client=cloudwatch, logs_client=counting,
                                    log_group=group)  # fmt: skip
        return record_run(monitor, {**HEALTHY, "run_failed": failed}, run_id=run_id,
                          source="ingest:crm", dimensions=DIMS), counting  # fmt: skip

    repeated, first = run(1.0, "r1")  # still failing: a repeat of the open alert, not news
    assert repeated == ["legacy-0"] and first.calls["filter_log_events"] == 1
    assert (critical_sum(cloudwatch, namespace, "AlertsRaised"),
            critical_sum(cloudwatch, namespace, "AlertRepeats")) == (0.0, 1.0)  # fmt: skip
    tags = logs.list_tags_log_group(logGroupName=group)["tags"]
    assert FINGERPRINT_STREAMS_TAG in tags
    recovered, second = run(0.0, "r2")  # the carrying over is done: no more reading everything
    assert recovered == [] and second.calls["filter_log_events"] == 0
    fresh = CloudWatchMonitor(namespace, client=cloudwatch, logs_client=logs, log_group=group)
    [still_open] = fresh.open_alerts()
    assert (still_open.alert_id, still_open.fingerprint) == ("legacy-1", other)
    [resolved] = [a for a in fresh.recent_alerts() if a.alert_id == "legacy-0"]
    assert (resolved.occurrences, resolved.resolved_at is not None) == (2, True)
    assert fresh.resolve(other, gone) == ["legacy-1"]  # the other input's, carried over too
    assert fresh.open_alerts() == []


def test_a_carried_over_alert_counts_before_the_log_serves_it(
    cloudwatch: Any, logs: Any, namespace: str
) -> None:
    group = f"/{namespace}/alerts"
    _legacy_log(logs, group)
    lagging = LaggingLogs(logs)  # serves nothing this monitor writes until `catch_up`
    monitor = CloudWatchMonitor(namespace, client=cloudwatch, logs_client=lagging,
                                log_group=group)  # fmt: skip
    assert monitor.alert("critical", "ingest:crm", "failed", fingerprint=RUN_FAILED) == "legacy-0"
    assert critical_sum(cloudwatch, namespace, "AlertsRaised") == 0.0
    assert monitor.resolve(RUN_FAILED) == ["legacy-0"]
    lagging.catch_up()
    assert [a.alert_id for a in monitor.open_alerts()] == ["legacy-1"]


def test_fingerprint_streams_are_valid_log_stream_names() -> None:
    long_path = "/in/" + "x" * 600
    names = {fingerprint_stream(fingerprint_for("ingest:crm", "run_failed",
                                                {"input": long_path + end}))
             for end in ("a.csv", "b.csv")}  # fmt: skip
    assert len(names) == 2  # the same first 200 characters, told apart by the hash
    assert all(len(name) <= 512 and ":" not in name and "*" not in name for name in names)
    assert fingerprint_stream("schedule input:*") == fingerprint_stream("schedule input:*")
