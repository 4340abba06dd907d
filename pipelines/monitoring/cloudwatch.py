"""The AWS monitor: metrics to CloudWatch, alerts to CloudWatch Logs, `AlertRule`s as alarms.

Metrics are buffered and sent with `put_metric_data` in batches (on `flush`, when a batch fills,
or when a `with` block ends). Each alert is one JSON event in the log group; repeats, resolutions
and acknowledgements are events too, so `recent_alerts` rebuilds state from the log (a repeat of
an open fingerprint, or of an id, folds into the first alert), plus the events this monitor wrote
that the log does not serve yet (it lags by seconds).

Where an event goes is what makes a run cheap: the events about one fingerprint (its alerts,
repeats and resolutions) share a stream of their own, `fingerprint/<fingerprint>/<hash>`, so
whether that fingerprint has an open alert is the last event of one stream, one `get_log_events`
read whatever the group holds. Alerts without a fingerprint and acknowledgements go to a stream
per UTC day. Groups written before fingerprint streams existed get their open alerts carried over
once, by the first monitor that needs them (see `_carry_over`).
boto3 is imported only when this module builds its own clients.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Final, Self, cast

from core.aws import aws_call
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
_LOG_LAG_MS: Final = 300_000
"""How long CloudWatch Logs may take to serve an event written (seconds, usually)."""
ALERTS_METRIC: Final = "AlertsRaised"
"""Alerts newly opened (a repeat of an open alert is not news: it counts as `REPEATS_METRIC`)."""
REPEATS_METRIC: Final = "AlertRepeats"
"""Repeats of alerts still open: the same problem seen again by a later run."""
FINGERPRINT_STREAMS_TAG: Final = "encore-fingerprint-streams"
"""Tag of a log group whose fingerprinted events are in fingerprint streams: set on the groups
this monitor creates, and on older groups once their open alerts are carried over."""
_CARRIED_OVER: Final = "open"
"""A fingerprint stream's first event when its alert was opened in a day stream: the alert's id
and severity (`_alerts` skips it; the events it summarises are still in the log)."""
_FINGERPRINT_STREAM: Final = "fingerprint/"
_STREAM_UNSAFE: Final = re.compile(r"[:*\x00-\x1f]")  # not allowed in a log stream name
_MAX_PUT_AGE: Final = timedelta(days=13)
"""put_log_events refuses events 14 days old: a carried-over event is dated no earlier than this."""


def _aws(action: str, **detail: Any) -> AbstractContextManager[None]:
    """botocore errors as MonitoringErrors saying what failed and what to check."""
    hint = ", or use the local monitor (ENCORE_PROFILE=local)"
    return aws_call(action, error=MonitoringError, hint=hint, **detail)


def _client(service: str, region: str, endpoint_url: str | None) -> Any:
    try:
        import boto3
    except ImportError as exc:  # pragma: no cover - boto3 ships with the base install today
        raise ConfigError(
            "CloudWatch monitoring needs boto3; install it with `pip install 'encore[aws]'`"
        ) from exc
    return boto3.client(service, region_name=region, endpoint_url=endpoint_url)


def fingerprint_stream(fingerprint: str) -> str:
    """The log stream of one fingerprint's events: readable in the console, unique by its hash."""
    digest = hashlib.sha256(fingerprint.encode()).hexdigest()[:16]
    return f"{_FINGERPRINT_STREAM}{_STREAM_UNSAFE.sub('_', fingerprint)[:200]}/{digest}"


def _stream_fingerprint(body: Mapping[str, Any]) -> str | None:
    """The fingerprint whose stream an event belongs to, if it is about exactly one."""
    if body.get("event") in ("alert", _CARRIED_OVER) and body.get("fingerprint"):
        return str(body["fingerprint"])
    fingerprints = body.get("fingerprints") if body.get("event") == "resolved" else None
    return (
        str(fingerprints[0]) if isinstance(fingerprints, list) and len(fingerprints) == 1 else None
    )


def _json_event(text: str) -> dict[str, Any] | None:
    try:
        body = json.loads(text)
    except json.JSONDecodeError:
        return None  # someone else's plain-text line in our group
    return body if isinstance(body, dict) else None


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
        self._streams: set[str] = set()
        # events this monitor wrote that no read has returned yet (message -> timestamp in ms):
        # CloudWatch Logs serves a new event to readers only seconds later, so without them a
        # repeat raised meanwhile would read as a new alert, and a resolution find nothing open
        self._unread: dict[str, int] = {}
        # the last event this monitor wrote about each fingerprint (its timestamp, body and when
        # it was written, in ms), for the same reason: the stream may not serve it yet
        self._written: dict[str, tuple[int, dict[str, Any], int]] = {}
        self._group_checked = False  # whether older open alerts are known to be carried over

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
            with _aws(
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
        seen = self._open_event(fingerprint) if fingerprint is not None else None
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
        self._put_event(
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
            if (seen := self._open_event(fingerprint)) is None:
                continue
            now = utc_now()
            self._put_event(
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
        self._put_event({"event": "acknowledged", "alert_id": alert_id, "at": now.isoformat()}, now)

    def _alerts(self) -> dict[str, Alert]:
        alerts: dict[str, Alert] = {}
        open_ids: dict[str, str] = {}  # fingerprint -> id of its open alert
        acknowledged: set[str] = set()
        for event in sorted(self._events(), key=_event_time):
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

    def _open_event(self, fingerprint: str) -> Mapping[str, Any] | None:
        """The last event about `fingerprint` in the last `lookback` if it leaves an alert open
        (an alert, a repeat or a carried-over alert: it holds the id and the severity)."""
        now = _now_ms()
        start = now - int(self.lookback.total_seconds() * 1000)
        last = self._last_event(fingerprint_stream(fingerprint), start)
        if last is None and not self._group_checked:
            self._carry_over()  # what it carries over is in `_written`
        written = self._written.get(fingerprint)
        # what this monitor wrote counts until the log must serve it: if it still does not
        # then, the stream was deleted (retention, cleanup)
        if written and written[0] >= start and written[2] >= now - _LOG_LAG_MS:
            last = written[:2] if last is None or written[0] >= last[0] else last
        if last is None or last[1].get("event") == "resolved":
            return None
        return last[1]

    def _last_event(self, stream: str, start: int) -> tuple[int, dict[str, Any]] | None:
        """The newest event of a stream since `start` (ms): one request unless the log serves
        empty pages before it, as GetLogEvents may."""
        kwargs: dict[str, Any] = {
            "logGroupName": self.log_group, "logStreamName": stream, "startTime": start,
            "startFromHead": False, "limit": 1,
        }  # fmt: skip
        while True:
            try:
                with _aws(f"read CloudWatch Logs {self.log_group}/{stream}", stream=stream):
                    page = self.logs.get_log_events(**kwargs)
            except MonitoringError as exc:
                if exc.detail.get("code") == "ResourceNotFoundException":
                    return None  # the fingerprint never had an event, or its stream is gone
                raise
            for event in reversed(page.get("events", [])):
                if (body := _json_event(str(event.get("message", "")))) is not None:
                    return int(event.get("timestamp", 0)), body
            token = page.get("nextBackwardToken")
            if not token or token == kwargs.get("nextToken"):
                return None  # the stream's start: nothing since `start`
            kwargs["nextToken"] = token

    def _carry_over(self) -> None:
        """Once per log group: give each alert still open in the day streams (written before
        fingerprint streams existed) a first event in its fingerprint stream, then tag the group.

        This reads the whole `lookback` once; afterwards one request (the tags) per monitor.
        """
        self._group_checked = True
        try:
            with _aws(f"read the tags of {self.log_group}", log_group=self.log_group):
                tags = self.logs.list_tags_log_group(logGroupName=self.log_group).get("tags", {})
        except MonitoringError as exc:
            if exc.detail.get("code") == "ResourceNotFoundException":
                return  # no group yet: nothing older, and the group made for it is tagged
            raise
        if FINGERPRINT_STREAMS_TAG in tags:
            return
        now = utc_now()
        start = int((now - self.lookback).timestamp() * 1000)
        for alert in self.open_alerts():
            stream = fingerprint_stream(alert.fingerprint) if alert.fingerprint else None
            if stream is None or self._last_event(stream, start) is not None:
                continue
            at = max(alert.last_seen_at or alert.raised_at, now - _MAX_PUT_AGE)
            self._put_event(
                {"event": _CARRIED_OVER, "alert_id": alert.alert_id, "at": at.isoformat(),
                 "fingerprint": alert.fingerprint, "severity": alert.severity},
                at,
            )  # fmt: skip
        log.info("carried the open alerts of %s over to fingerprint streams", self.log_group)
        with _aws(f"tag {self.log_group}", log_group=self.log_group):
            self.logs.tag_log_group(
                logGroupName=self.log_group, tags={FINGERPRINT_STREAMS_TAG: "1"}
            )

    def _ensure_stream(self, stream: str) -> None:
        """Create the stream (and the group, tagged, when there is none) unless known to exist."""
        if stream in self._streams:
            return
        try:
            self._create("create log stream", self.logs.create_log_stream, logStreamName=stream)
        except MonitoringError as exc:
            if exc.detail.get("code") != "ResourceNotFoundException":
                raise
            # a new group has nothing to carry over: tagged as its first monitor makes it
            tags = {FINGERPRINT_STREAMS_TAG: "1"}
            self._create("create log group", self.logs.create_log_group, tags=tags)
            self._create("create log stream", self.logs.create_log_stream, logStreamName=stream)
        self._streams.add(stream)

    def _create(self, action: str, call: Any, **kwargs: Any) -> None:
        """Make a log group or stream; one made meanwhile by another monitor will do."""
        kwargs["logGroupName"] = self.log_group
        try:
            with _aws(f"{action} in {self.log_group}", **kwargs):
                call(**kwargs)
        except MonitoringError as exc:
            if exc.detail.get("code") != "ResourceAlreadyExistsException":
                raise

    def _put_event(self, body: Mapping[str, Any], at: datetime) -> None:
        """Append one event: to its fingerprint's stream if it is about one, else the day's."""
        fingerprint = _stream_fingerprint(body)
        stream = (
            fingerprint_stream(fingerprint)
            if fingerprint is not None
            else at.astimezone(UTC).strftime("%Y/%m/%d")
        )
        text, stamp = json.dumps(body, sort_keys=True, default=str), int(at.timestamp() * 1000)
        event = {"timestamp": stamp, "message": text}
        for attempt in (1, 2):
            self._ensure_stream(stream)
            try:
                with _aws(f"write to CloudWatch Logs {self.log_group}", log_group=self.log_group):
                    self.logs.put_log_events(
                        logGroupName=self.log_group, logStreamName=stream, logEvents=[event]
                    )
                self._unread[text] = stamp
                if fingerprint is not None:
                    self._written[fingerprint] = (stamp, dict(body), _now_ms())
                return
            except MonitoringError as exc:
                # The group or stream was deleted behind our cache (retention, cleanup): make
                # it again once rather than losing the alert.
                if exc.detail.get("code") != "ResourceNotFoundException" or attempt == 2:
                    raise
                self._streams.clear()  # the group may be gone too
                self._unread.clear()  # what it held is gone
                self._written.clear()

    def _events(self) -> list[dict[str, Any]]:
        """The log group's events of the last `lookback`, and this monitor's own not yet
        readable there."""
        start = int((utc_now() - self.lookback).timestamp() * 1000)
        kwargs: dict[str, Any] = {"logGroupName": self.log_group, "startTime": start}
        texts: list[str] = []
        while True:
            try:
                with _aws(f"read CloudWatch Logs {self.log_group}", log_group=self.log_group):
                    page = self.logs.filter_log_events(**kwargs)
            except MonitoringError as exc:
                if exc.detail.get("code") == "ResourceNotFoundException":
                    break  # no alert was ever raised, or the group was deleted since
                raise
            texts += [str(event.get("message", "")) for event in page.get("events", [])]
            token = page.get("nextToken")
            if not token or token == kwargs.get("nextToken"):
                break
            kwargs["nextToken"] = token
        for text in texts:
            self._unread.pop(text, None)  # readable now
        # an event still unread after the log's lag is gone (its group or stream was deleted)
        kept_from = max(start, int(utc_now().timestamp() * 1000) - _LOG_LAG_MS)
        self._unread = {text: at for text, at in self._unread.items() if at >= kept_from}
        return [body for text in [*texts, *self._unread] if (body := _json_event(text)) is not None]

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
            with _aws(f"create alarm {name!r}", alarm=name):
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


def _now_ms() -> int:
    return int(utc_now().timestamp() * 1000)


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
