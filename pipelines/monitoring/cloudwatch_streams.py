"""Where the CloudWatch monitor's alert events go in its log group, and reading them back.

The events about one fingerprint (its alerts, repeats and resolutions) share a stream of their
own, `fingerprint/<fingerprint>/<hash>`, so whether that fingerprint has an open alert is the last
event of one stream, one `get_log_events` read whatever the group holds. Alerts without a
fingerprint and acknowledgements go to a stream per UTC day. Groups written before fingerprint
streams existed get their open alerts carried over once, by the first monitor that needs them
(`AlertLog._carry_over`). The log serves a new event to readers only seconds later, so what this
monitor wrote counts as read until the log must serve it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from core.aws import aws_call
from pipelines.monitoring.base import Alert, MonitoringError, utc_now

log = logging.getLogger(__name__)

_LOG_LAG_MS: Final = 300_000
"""How long CloudWatch Logs may take to serve an event written (seconds, usually)."""
FINGERPRINT_STREAMS_TAG: Final = "encore-fingerprint-streams"
"""Tag of a log group whose fingerprinted events are in fingerprint streams: set on the groups
this monitor creates, and on older groups once their open alerts are carried over."""
_CARRIED_OVER: Final = "open"
"""A fingerprint stream's first event when its alert was opened in a day stream: the alert's id
and severity (the monitor's `_alerts` skips it; the events it summarises are still in the log)."""
_FINGERPRINT_STREAM: Final = "fingerprint/"
_STREAM_UNSAFE: Final = re.compile(r"[:*\x00-\x1f]")  # not allowed in a log stream name
_MAX_PUT_AGE: Final = timedelta(days=13)
"""put_log_events refuses events 14 days old: a carried-over event is dated no earlier than this."""


def monitoring_call(action: str, **detail: Any) -> AbstractContextManager[None]:
    """botocore errors as MonitoringErrors saying what failed and what to check."""
    hint = ", or use the local monitor (ENCORE_PROFILE=local)"
    return aws_call(action, error=MonitoringError, hint=hint, **detail)


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


def _now_ms() -> int:
    return int(utc_now().timestamp() * 1000)


class AlertLog:
    """The alert events of one log group: appended to their stream, read back per fingerprint
    (`open_event`) or whole (`events`), with this monitor's own not served yet."""

    def __init__(self, logs: Any, log_group: str, lookback: timedelta) -> None:
        self.logs = logs
        self.log_group = log_group
        self.lookback = lookback
        self._streams: set[str] = set()
        # events this monitor wrote that no read has returned yet (message -> timestamp in ms):
        # CloudWatch Logs serves a new event to readers only seconds later, so without them a
        # repeat raised meanwhile would read as a new alert, and a resolution find nothing open
        self._unread: dict[str, int] = {}
        # the last event this monitor wrote about each fingerprint (its timestamp, body and when
        # it was written, in ms), for the same reason: the stream may not serve it yet
        self._written: dict[str, tuple[int, dict[str, Any], int]] = {}
        self._group_checked = False  # whether older open alerts are known to be carried over

    def open_event(
        self, fingerprint: str, open_alerts: Callable[[], Iterable[Alert]]
    ) -> Mapping[str, Any] | None:
        """The last event about `fingerprint` in the last `lookback` if it leaves an alert open
        (an alert, a repeat or a carried-over alert: it holds the id and the severity)."""
        now = _now_ms()
        start = now - int(self.lookback.total_seconds() * 1000)
        last = self._last_event(fingerprint_stream(fingerprint), start)
        if last is None and not self._group_checked:
            self._carry_over(open_alerts)  # what it carries over is in `_written`
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
                with monitoring_call(
                    f"read CloudWatch Logs {self.log_group}/{stream}", stream=stream
                ):
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

    def _carry_over(self, open_alerts: Callable[[], Iterable[Alert]]) -> None:
        """Once per log group: give each alert still open in the day streams (written before
        fingerprint streams existed) a first event in its fingerprint stream, then tag the group.

        This reads the whole `lookback` once; afterwards one request (the tags) per monitor.
        """
        self._group_checked = True
        try:
            with monitoring_call(f"read the tags of {self.log_group}", log_group=self.log_group):
                tags = self.logs.list_tags_log_group(logGroupName=self.log_group).get("tags", {})
        except MonitoringError as exc:
            if exc.detail.get("code") == "ResourceNotFoundException":
                return  # no group yet: nothing older, and the group made for it is tagged
            raise
        if FINGERPRINT_STREAMS_TAG in tags:
            return
        now = utc_now()
        start = int((now - self.lookback).timestamp() * 1000)
        for alert in open_alerts():
            stream = fingerprint_stream(alert.fingerprint) if alert.fingerprint else None
            if stream is None or self._last_event(stream, start) is not None:
                continue
            at = max(alert.last_seen_at or alert.raised_at, now - _MAX_PUT_AGE)
            self.put(
                {"event": _CARRIED_OVER, "alert_id": alert.alert_id, "at": at.isoformat(),
                 "fingerprint": alert.fingerprint, "severity": alert.severity},
                at,
            )  # fmt: skip
        log.info("carried the open alerts of %s over to fingerprint streams", self.log_group)
        with monitoring_call(f"tag {self.log_group}", log_group=self.log_group):
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
            with monitoring_call(f"{action} in {self.log_group}", **kwargs):
                call(**kwargs)
        except MonitoringError as exc:
            if exc.detail.get("code") != "ResourceAlreadyExistsException":
                raise

    def put(self, body: Mapping[str, Any], at: datetime) -> None:
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
                with monitoring_call(
                    f"write to CloudWatch Logs {self.log_group}", log_group=self.log_group
                ):
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

    def events(self) -> list[dict[str, Any]]:
        """The log group's events of the last `lookback`, and this monitor's own not yet
        readable there."""
        start = int((utc_now() - self.lookback).timestamp() * 1000)
        kwargs: dict[str, Any] = {"logGroupName": self.log_group, "startTime": start}
        texts: list[str] = []
        while True:
            try:
                with monitoring_call(
                    f"read CloudWatch Logs {self.log_group}", log_group=self.log_group
                ):
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
