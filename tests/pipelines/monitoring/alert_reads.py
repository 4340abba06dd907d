"""What the CloudWatch monitor reads from its alert log: a counting Logs client and a seeded log.

Used by test_alert_reads.py and by measure_alert_reads.py (the figures for the commit message).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from pipelines.monitoring import CloudWatchMonitor, fingerprint_for
from pipelines.monitoring.base import utc_now

_READS = ("filter_log_events", "get_log_events")

DIMS = {"pipeline": "ingest", "entity": "venues"}
"""The dimensions of the pipeline whose runs are measured."""


def critical_sum(cloudwatch: Any, namespace: str, name: str) -> float:
    """The last hour's sum of a critical-severity metric (AlertsRaised, AlertRepeats)."""
    now = datetime.now(UTC)
    points = cloudwatch.get_metric_statistics(
        Namespace=namespace, MetricName=name,
        Dimensions=[{"Name": "severity", "Value": "critical"}],
        StartTime=now - timedelta(hours=1), EndTime=now + timedelta(minutes=5),
        Period=3600, Statistics=["Sum"],
    )["Datapoints"]  # fmt: skip
    return float(sum(p["Sum"] for p in points))


class CountingLogs:
    """Forwards to a real CloudWatch Logs client; counts requests and the log events they return."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: Counter[str] = Counter()
        self.events_read = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)

        def counted(**kwargs: Any) -> Any:
            self.calls[name] += 1
            reply = method(**kwargs)
            if name in _READS:
                self.events_read += len(reply.get("events", []))
            return reply

        return counted

    def reset(self) -> None:
        self.calls.clear()
        self.events_read = 0

    @property
    def reads(self) -> int:
        """Requests that read log events."""
        return sum(self.calls[name] for name in _READS)


def seed_old_alerts(monitor: CloudWatchMonitor, count: int, *, days: int = 13) -> None:
    """Write `count` alerts raised and resolved over the last `days`, as the monitor writes them:
    every third about the measured pipeline's own run_failed, the others about other inputs."""
    now = utc_now()
    for n in range(count):
        at = now - timedelta(days=days) + timedelta(days=days) * n / max(count, 1)
        own = n % 3 == 0
        fingerprint = fingerprint_for(
            "ingest:crm", "run_failed", DIMS if own else {**DIMS, "input": f"/in/{n}.csv"}
        )
        alert_id = f"old-{n:06d}"
        raised = {
            "event": "alert", "alert_id": alert_id, "raised_at": at.isoformat(),
            "severity": "critical", "source": "ingest:crm", "message": "the run failed",
            "run_id": f"old-run-{n}", "details": {}, "fingerprint": fingerprint,
        }  # fmt: skip
        closed_at = at + timedelta(minutes=5)
        resolved = {
            "event": "resolved", "fingerprints": [fingerprint], "run_id": f"old-run-{n}b",
            "at": closed_at.isoformat(),
        }  # fmt: skip
        monitor.alert_log.put(raised, at)
        monitor.alert_log.put(resolved, closed_at)
