"""The AWS monitor: metrics to CloudWatch, alerts to CloudWatch Logs, `AlertRule`s as alarms.

Metrics are buffered and sent with `put_metric_data` in batches (on `flush`, when a batch fills,
or when a `with` block ends). Each alert is one JSON event in the log group; repeats, resolutions
and acknowledgements are events too, so `recent_alerts` rebuilds state from the log (a repeat of
an open fingerprint, or of an id, folds into the first alert), plus the events this monitor wrote
that the log does not serve yet (it lags by seconds).

Where an event goes is what makes a run cheap: the events about one fingerprint share a stream
of their own, so whether it has an open alert is one read (`cloudwatch_streams.AlertLog`).
boto3 is imported only when this module builds its own clients.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Final, Self, cast

from core.errors import ConfigError
from pipelines.monitoring.base import (
    SEVERITY_RANK,
    Alert,
    AlertRule,
    MonitoringError,
    Op,
    Severity,
    Unit,
    log_alert,
    utc_now,
)
from pipelines.monitoring.cloudwatch_streams import AlertLog, monitoring_call

log = logging.getLogger(__name__)

# Ratios stay fractions ("None"), not "Percent", so one AlertRule threshold (0.05) means the
# same thing locally and in a CloudWatch alarm.
CLOUDWATCH_UNITS: Final[Mapping[Unit, str]] = {
    "count": "Count",
    "seconds": "Seconds",
    "milliseconds": "Milliseconds",
    "ratio": "None",
    "percent": "Percent",
    "bytes": "Bytes",
    "none": "None",
}
_COMPARISONS: Final[Mapping[Op, str]] = {
    ">": "GreaterThanThreshold",
    ">=": "GreaterThanOrEqualToThreshold",
    "<": "LessThanThreshold",
    "<=": "LessThanOrEqualToThreshold",
}
_MAX_BATCH: Final = 1000  # put_metric_data's limit on data points per request
_MAX_DIMENSIONS: Final = 30
ALERTS_METRIC: Final = "AlertsRaised"
"""Alerts newly opened (a repeat of an open alert is not news: it counts as `REPEATS_METRIC`)."""
REPEATS_METRIC: Final = "AlertRepeats"
"""Repeats of alerts still open: the same problem seen again by a later run."""


def _client(service: str, region: str, endpoint_url: str | None) -> Any:
    try:
        import boto3
    except ImportError as exc:  # pragma: no cover - boto3 ships with the base install today
        raise ConfigError(
            "CloudWatch monitoring needs boto3; install it with `pip install 'encore[aws]'`"
        ) from exc
    return boto3.client(service, region_name=region, endpoint_url=endpoint_url)


def _dimensions(dimensions: Mapping[str, str]) -> list[dict[str, str]]:
    if len(dimensions) > _MAX_DIMENSIONS:
        raise MonitoringError(
            f"CloudWatch allows {_MAX_DIMENSIONS} dimensions per metric; got {len(dimensions)}",
            dimensions=dict(dimensions),
        )
    empty = sorted(name for name, value in dimensions.items() if not name or not str(value))
    if empty:
        raise MonitoringError(
            f"CloudWatch dimensions need non-empty names and values; fix {empty}",
            dimensions=dict(dimensions),
        )
    return [{"Name": name, "Value": str(value)} for name, value in sorted(dimensions.items())]


class CloudWatchMonitor:
    """Sends metrics to CloudWatch and alerts to CloudWatch Logs; creates alarms from rules.

    With `rollup` (the default) a metric that has dimensions is also sent without them, because
    CloudWatch does not aggregate across dimensions and the alarms `ensure_alarms` creates watch
    the dimensionless series, so they see every pipeline.
    """

    def __init__(
        self,
        namespace: str = "Encore/Pipelines",
        *,
        client: Any = None,
        logs_client: Any = None,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        log_group: str = "/encore/alerts",
        rollup: bool = True,
        alert_metric_severities: Iterable[Severity] = ("critical",),
        batch_size: int = 500,
        lookback: timedelta = timedelta(days=14),
    ) -> None:
        self.namespace = namespace
        self.log_group = log_group
        self.rollup = rollup
        self.alert_metric_severities = frozenset(alert_metric_severities)
        self.batch_size = max(1, min(batch_size, _MAX_BATCH))
        self.lookback = lookback
        self.cloudwatch = (
            client if client is not None else _client("cloudwatch", region, endpoint_url)
        )
        self.logs = (
            logs_client if logs_client is not None else _client("logs", region, endpoint_url)
        )
        self._pending: list[dict[str, Any]] = []
        self.alert_log = AlertLog(self.logs, log_group, lookback)

    def metric(
        self,
        name: str,
        value: float,
        *,
        unit: Unit = "count",
        run_id: str | None = None,
        dimensions: Mapping[str, str] | None = None,
    ) -> None:
        """Buffer one data point (`run_id` is not sent: a per-run dimension is a metric per run)."""
        if not math.isfinite(value):
            # CloudWatch rejects NaN and infinities for the whole batch; drop just this one.
            log.warning("not sending metric %s: %r is not a finite number", name, value)
            return
        datum: dict[str, Any] = {
            "MetricName": name,
            "Value": float(value),
            "Unit": CLOUDWATCH_UNITS.get(unit, "None"),
            "Timestamp": utc_now(),
        }
        dims = _dimensions(dimensions or {})
        self._pending.append({**datum, "Dimensions": dims} if dims else datum)
        if dims and self.rollup:
            self._pending.append(datum)
        if len(self._pending) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        """Send the buffered data points, `batch_size` per request."""
        pending, self._pending = self._pending, []
        for start in range(0, len(pending), self.batch_size):
            batch = pending[start : start + self.batch_size]
            # Unsent points are dropped rather than kept: a backend that is down would otherwise
            # grow the buffer without bound, and metrics are worth less than the pipeline's memory.
            with monitoring_call(
                f"send {len(batch)} metric(s) to CloudWatch namespace {self.namespace}",
                namespace=self.namespace,
                dropped=len(pending) - start,
            ):
                self.cloudwatch.put_metric_data(Namespace=self.namespace, MetricData=batch)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.flush()

    def alert(
        self,
        severity: Severity,
        source: str,
        message: str,
        *,
        run_id: str | None = None,
        details: Mapping[str, Any] | None = None,
        alert_id: str | None = None,
        fingerprint: str | None = None,
    ) -> str:
        """Write the alert to CloudWatch Logs (and count it as a metric if its severity is set).

        A repeat of an open fingerprint (or, from a fan-out, of an open alert's id) is written too
        and folded into the open alert when the log is read; its id is returned. `AlertsRaised`
        counts the alerts opened (and those that grew more severe), `AlertRepeats` the other
        repeats, so an alarm on `AlertsRaised` pages once per problem rather than once per run
        that still sees it.
        """
        copy = alert_id is not None  # a fan-out's copy: the monitor that made the id logged it
        # An id belongs to one fingerprint (a fan-out sends both), so the fingerprint's last
        # event says whether this repeats an open alert, and of which severity.
        seen = (
            self.alert_log.open_event(fingerprint, self.open_alerts)
            if fingerprint is not None
            else None
        )
        alert_id = alert_id or (str(seen["alert_id"]) if seen else None)
        news = seen is None or SEVERITY_RANK[severity] > SEVERITY_RANK[_severity(seen)]
        alert = Alert(
            alert_id=alert_id or uuid.uuid4().hex,
            raised_at=utc_now(),
            severity=severity,
            source=source,
            message=message,
            run_id=run_id,
            details=dict(details or {}),
            fingerprint=fingerprint,
        )
        self.alert_log.put(
            {
                "event": "alert",
                "alert_id": alert.alert_id,
                "raised_at": alert.raised_at.isoformat(),
                "severity": severity,
                "source": source,
                "message": message,
                "run_id": run_id,
                "details": dict(alert.details),
                "fingerprint": fingerprint,
            },
            alert.raised_at,
        )
        if news and not copy:
            log_alert(alert)
        elif not copy:
            log.info(
                "%s alert %s from %s still open: %s", severity, alert.alert_id, source, message
            )
        if severity in self.alert_metric_severities:
            self._pending.append(
                {
                    "MetricName": ALERTS_METRIC if news else REPEATS_METRIC,
                    "Value": 1.0,
                    "Unit": "Count",
                    "Timestamp": alert.raised_at,
                    "Dimensions": [{"Name": "severity", "Value": severity}],
                }
            )
            self.flush()
        return alert.alert_id

    def recent_alerts(self, limit: int = 50, *, unacknowledged_only: bool = False) -> list[Alert]:
        """The newest alerts of the last `lookback`, rebuilt from the log group's events."""
        found = [
            alert
            for alert in self._alerts().values()
            if not (unacknowledged_only and alert.acknowledged)
        ]
        found.sort(key=lambda a: (a.raised_at, a.alert_id), reverse=True)
        return found[:limit]

    def open_alerts(self, source: str | None = None) -> list[Alert]:
        """The alerts of the last `lookback` not resolved yet (of one source), oldest first."""
        found = [a for a in self._alerts().values()
                 if a.is_open and (source is None or a.source == source)]  # fmt: skip
        return sorted(found, key=lambda a: (a.raised_at, a.alert_id))

    def resolve(self, *fingerprints: str, run_id: str | None = None) -> list[str]:
        """Append a resolution event to the stream of each of these fingerprints that has an
        open alert; return those alerts' ids."""
        closed = []
        for fingerprint in sorted(set(fingerprints)):
            if (seen := self.alert_log.open_event(fingerprint, self.open_alerts)) is None:
                continue
            now = utc_now()
            self.alert_log.put(
                {"event": "resolved", "fingerprints": [fingerprint], "run_id": run_id,
                 "at": now.isoformat()},
                now,
            )  # fmt: skip
            closed.append(str(seen["alert_id"]))
        return closed

    def acknowledge(self, alert_id: str) -> None:
        """Append an acknowledgement event for a known alert."""
        if alert_id not in self._alerts():
            raise MonitoringError(
                f"no alert with id {alert_id!r} in {self.log_group} over the last "
                f"{self.lookback}; list ids with recent_alerts()",
                alert_id=alert_id,
            )
        now = utc_now()
        self.alert_log.put(
            {"event": "acknowledged", "alert_id": alert_id, "at": now.isoformat()}, now
        )

    def _alerts(self) -> dict[str, Alert]:
        alerts: dict[str, Alert] = {}
        open_ids: dict[str, str] = {}  # fingerprint -> id of its open alert
        acknowledged: set[str] = set()
        for event in sorted(self.alert_log.events(), key=_event_time):
            if event.get("event") == "acknowledged":
                acknowledged.add(str(event.get("alert_id")))
            elif event.get("event") == "resolved":
                at = _event_time(event)
                for fingerprint in event.get("fingerprints") or []:
                    if (alert_id := open_ids.pop(str(fingerprint), None)) is not None:
                        alerts[alert_id] = replace(alerts[alert_id], resolved_at=at)
            elif event.get("event") == "alert":
                alert = _alert_from_event(event)
                first = alert.alert_id if alert.alert_id in alerts else None
                if first is None and alert.fingerprint:
                    first = open_ids.get(alert.fingerprint)
                if first is not None:  # a repeat: fold it into the alert it repeats
                    seen = alerts[first]
                    alerts[first] = replace(
                        seen, occurrences=seen.occurrences + 1, last_seen_at=alert.raised_at,
                        severity=alert.severity, message=alert.message, run_id=alert.run_id,
                        details=alert.details,
                    )  # fmt: skip
                    continue
                alerts[alert.alert_id] = alert
                if alert.fingerprint:
                    open_ids[alert.fingerprint] = alert.alert_id
        return {
            alert_id: replace(alert, acknowledged=alert_id in acknowledged)
            for alert_id, alert in alerts.items()
        }

    def ensure_alarms(
        self,
        rules: Iterable[AlertRule],
        *,
        dimensions: Mapping[str, str] | None = None,
        period_s: int = 300,
        actions: Mapping[Severity, Sequence[str]] | None = None,
    ) -> list[str]:
        """Create or update one CloudWatch alarm per rule; return the alarm names.

        `actions` maps a severity to the ARNs (e.g. SNS topics) notified when its alarms fire.
        Without `dimensions` the alarms watch the rolled-up series of every pipeline.
        """
        dims = _dimensions(dimensions or {})
        suffix = "".join(f" {d['Name']}={d['Value']}" for d in dims)
        names = []
        for rule in rules:
            name = f"{self.namespace}/{rule.name}{suffix}"
            arns = list((actions or {}).get(rule.severity, ()))
            with monitoring_call(f"create alarm {name!r}", alarm=name):
                self.cloudwatch.put_metric_alarm(
                    AlarmName=name,
                    AlarmDescription=(
                        f"{rule.severity}: {rule.metric} {rule.op} {rule.threshold:g} "
                        f"(Encore alert rule {rule.name})"
                    ),
                    Namespace=self.namespace,
                    MetricName=rule.metric,
                    Dimensions=dims,
                    # Any single run breaking the rule within the period should fire the alarm.
                    Statistic="Maximum" if rule.op in (">", ">=") else "Minimum",
                    Period=period_s,
                    EvaluationPeriods=1,
                    DatapointsToAlarm=1,
                    Threshold=float(rule.threshold),
                    ComparisonOperator=_COMPARISONS[rule.op],
                    # No run in the period means nothing broke; staying OK avoids false pages.
                    TreatMissingData="notBreaching",
                    ActionsEnabled=bool(arns),
                    AlarmActions=arns,
                    Tags=[
                        {"Key": "severity", "Value": rule.severity},
                        {"Key": "encore-rule", "Value": rule.name},
                    ],
                )
            names.append(name)
        return names


def _event_time(event: Mapping[str, Any]) -> datetime:
    """When an event happened (alerts carry `raised_at`, the others `at`), aware UTC."""
    stamp = event.get("raised_at") or event.get("at")
    if not stamp:
        return datetime.min.replace(tzinfo=UTC)
    moment = datetime.fromisoformat(str(stamp))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _severity(event: Mapping[str, Any]) -> Severity:
    severity = event.get("severity")
    return cast(Severity, severity) if severity in SEVERITY_RANK else "critical"


def _alert_from_event(event: Mapping[str, Any]) -> Alert:
    raised = _event_time(event)
    return Alert(
        alert_id=str(event["alert_id"]),
        raised_at=raised if raised.tzinfo else raised.replace(tzinfo=UTC),
        severity=cast(Severity, event["severity"]),
        source=str(event["source"]),
        message=str(event["message"]),
        run_id=event.get("run_id"),
        details=dict(event.get("details") or {}),
        fingerprint=event.get("fingerprint"),
        last_seen_at=raised,
    )
