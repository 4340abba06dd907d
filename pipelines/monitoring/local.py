"""The embedded monitor: metrics and alerts in the warehouse's operations tables, plus a fan-out.

`LocalMonitor` writes through the caller's connection, so a run's metrics and alerts commit or
roll back together with the run itself (`core.warehouse.transaction`). Open alerts are merged by
fingerprint (migration 0005): a repeat updates the open row instead of adding one.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final, cast

import duckdb

from core.errors import WarehouseError
from pipelines.monitoring.base import (
    Alert,
    Metric,
    Monitor,
    MonitoringError,
    Severity,
    Unit,
    log_alert,
)

log = logging.getLogger(__name__)

_ALERT_COLUMNS: Final = (
    "alert_id, raised_at, severity, source, message, run_id, details, acknowledged, "
    "fingerprint, occurrences, last_seen_at, resolved_at"
)


def _naive_utc(moment: datetime) -> datetime:
    # The operations tables use TIMESTAMP (no zone); every value stored there is UTC.
    return moment.astimezone(UTC).replace(tzinfo=None)


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _json(value: Any) -> dict[str, Any]:
    loaded = json.loads(value) if isinstance(value, str) else value
    return dict(loaded or {})


class LocalMonitor:
    """Writes `pipeline_metrics` and `alerts` through the caller's DuckDB connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def _execute(self, sql: str, params: list[Any], action: str) -> duckdb.DuckDBPyConnection:
        try:
            return self.con.execute(sql, params)
        except duckdb.Error as exc:
            raise WarehouseError(
                f"cannot {action}: {exc}; is the warehouse migrated (connect_writer)?",
                sql=sql,
                params=params,
            ) from exc

    def metric(
        self,
        name: str,
        value: float,
        *,
        unit: Unit = "count",
        run_id: str | None = None,
        dimensions: Mapping[str, str] | None = None,
    ) -> None:
        """Insert one row into `pipeline_metrics`."""
        self.record(Metric(name, float(value), unit, run_id, dict(dimensions or {})))

    def record(self, metric: Metric) -> None:
        """Insert an already built `Metric`."""
        self._execute(
            "INSERT INTO pipeline_metrics (run_id, name, value, unit, dimensions, recorded_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                metric.run_id,
                metric.name,
                metric.value,
                metric.unit,
                json.dumps(dict(metric.dimensions), sort_keys=True),
                _naive_utc(metric.recorded_at),
            ],
            f"record metric {metric.name!r}",
        )

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
        """Insert an alert into `alerts` and log it, or update the open alert with the same
        fingerprint; return its id."""
        now = datetime.now(UTC)
        details_json = json.dumps(dict(details or {}), sort_keys=True, default=str)
        if fingerprint is not None:
            repeat = self._execute(
                "UPDATE alerts SET occurrences = occurrences + 1, last_seen_at = ?, "
                "severity = ?, message = ?, run_id = ?, details = ? "
                "WHERE fingerprint = ? AND resolved_at IS NULL RETURNING alert_id, occurrences",
                [_naive_utc(now), severity, message, run_id, details_json, fingerprint],
                f"update the open alert {fingerprint!r}",
            ).fetchall()
            if repeat:
                existing, occurrences = repeat[0]
                if alert_id is None:  # else a copy: the monitor that made the id logged it
                    log.info("%s alert %s from %s still open (%d occurrences): %s",
                             severity, existing, source, occurrences, message)  # fmt: skip
                return str(existing)
        alert = Alert(
            alert_id=alert_id or uuid.uuid4().hex,
            raised_at=now,
            severity=severity,
            source=source,
            message=message,
            run_id=run_id,
            details=dict(details or {}),
            fingerprint=fingerprint,
            last_seen_at=now,
        )
        self._execute(
            f"INSERT INTO alerts ({_ALERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, NULL)",
            [
                alert.alert_id,
                _naive_utc(alert.raised_at),
                alert.severity,
                alert.source,
                alert.message,
                alert.run_id,
                details_json,
                False,
                fingerprint,
                _naive_utc(now),
            ],
            f"raise a {severity} alert from {source}",
        )
        if alert_id is None:
            log_alert(alert)
        return alert.alert_id

    def resolve(self, *fingerprints: str, run_id: str | None = None) -> list[str]:
        """Close the open alerts with these fingerprints (`run_id`: the run that saw them gone)."""
        if not fingerprints:
            return []
        rows = self._execute(
            "UPDATE alerts SET resolved_at = ?, "
            "details = json_merge_patch(details, json_object('resolved_by_run', ?)) "
            "WHERE resolved_at IS NULL AND list_contains(?, fingerprint) "
            "RETURNING alert_id, source, fingerprint",
            [_naive_utc(datetime.now(UTC)), run_id, list(fingerprints)],
            "resolve alerts",
        ).fetchall()
        for alert_id, source, fingerprint in rows:
            log.info("alert %s from %s resolved: %s is no longer seen", alert_id, source,
                     fingerprint)  # fmt: skip
        return [str(r[0]) for r in rows]

    def recent_alerts(self, limit: int = 50, *, unacknowledged_only: bool = False) -> list[Alert]:
        """The newest alerts first."""
        where = "WHERE NOT acknowledged" if unacknowledged_only else ""
        rows = self._execute(
            f"SELECT {_ALERT_COLUMNS} FROM alerts {where} "
            "ORDER BY raised_at DESC, alert_id LIMIT ?",
            [limit],
            "read alerts",
        ).fetchall()
        return [_alert(row) for row in rows]

    def open_alerts(self, source: str | None = None) -> list[Alert]:
        """The alerts not resolved yet (of one source, if given), oldest first."""
        rows = self._execute(
            f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE resolved_at IS NULL "
            "AND (CAST(? AS VARCHAR) IS NULL OR source = ?) ORDER BY raised_at, alert_id",
            [source, source],
            "read open alerts",
        ).fetchall()
        return [_alert(row) for row in rows]

    def acknowledge(self, alert_id: str) -> None:
        """Mark an alert as acknowledged."""
        row = self._execute(
            "UPDATE alerts SET acknowledged = true WHERE alert_id = ? RETURNING alert_id",
            [alert_id],
            f"acknowledge alert {alert_id}",
        ).fetchone()
        if row is None:
            raise MonitoringError(
                f"no alert with id {alert_id!r}; list ids with recent_alerts()", alert_id=alert_id
            )

    def metrics(self, run_id: str) -> list[Metric]:
        """Every metric a run recorded, in the order recorded (for status and dashboards)."""
        rows = self._execute(
            "SELECT name, value, unit, run_id, dimensions, recorded_at FROM pipeline_metrics "
            "WHERE run_id = ? ORDER BY recorded_at, name",
            [run_id],
            f"read metrics of run {run_id}",
        ).fetchall()
        return [
            Metric(
                name=row[0],
                value=float(row[1]),
                unit=cast(Unit, row[2]),
                run_id=row[3],
                dimensions={str(k): str(v) for k, v in _json(row[4]).items()},
                recorded_at=_as_utc(row[5]),
            )
            for row in rows
        ]

    def flush(self) -> None:
        """Nothing to send: every call writes at once (the caller's transaction decides when)."""


def _alert(row: tuple[Any, ...]) -> Alert:
    return Alert(
        alert_id=row[0],
        raised_at=_as_utc(row[1]),
        severity=cast(Severity, row[2]),
        source=row[3],
        message=row[4],
        run_id=row[5],
        details=_json(row[6]),
        acknowledged=bool(row[7]),
        fingerprint=row[8],
        occurrences=int(row[9]),
        last_seen_at=_as_utc(row[10] or row[1]),
        resolved_at=_as_utc(row[11]) if row[11] else None,
    )


class FanOutMonitor:
    """Sends to a primary monitor and any number of secondaries (e.g. local + CloudWatch).

    The primary's errors propagate; a secondary's are logged and swallowed, because losing a
    copy of a metric is better than failing the pipeline that emitted it. Reads go to the primary.
    """

    def __init__(self, primary: Monitor, *secondaries: Monitor) -> None:
        self.primary = primary
        self.secondaries = secondaries

    def _each_secondary(self, action: str, call: Callable[[Monitor], object]) -> None:
        for monitor in self.secondaries:
            try:
                call(monitor)
            # Any failure of an optional backend (network, credentials, throttling, bugs) must
            # stay out of the pipeline: that is this class's whole purpose.
            except Exception as exc:
                log.warning(
                    "secondary monitor %s failed to %s: %s",
                    type(monitor).__name__,
                    action,
                    exc,
                    exc_info=True,
                )

    def metric(
        self,
        name: str,
        value: float,
        *,
        unit: Unit = "count",
        run_id: str | None = None,
        dimensions: Mapping[str, str] | None = None,
    ) -> None:
        """Record the data point on every monitor."""
        self.primary.metric(name, value, unit=unit, run_id=run_id, dimensions=dimensions)
        self._each_secondary(
            f"record metric {name}",
            lambda m: m.metric(name, value, unit=unit, run_id=run_id, dimensions=dimensions),
        )

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
        """Raise the alert on every monitor under one id (the primary's: a repeat keeps the open
        alert's id); return that id. The primary logs it, the secondaries store copies."""
        shared_id = self.primary.alert(
            severity, source, message, run_id=run_id, details=details, alert_id=alert_id,
            fingerprint=fingerprint,
        )  # fmt: skip
        self._each_secondary(
            f"raise alert {shared_id}",
            lambda m: m.alert(
                severity, source, message, run_id=run_id, details=details, alert_id=shared_id,
                fingerprint=fingerprint,
            ),
        )  # fmt: skip
        return shared_id

    def resolve(self, *fingerprints: str, run_id: str | None = None) -> list[str]:
        """Resolve on the primary, and on the others only what the primary had open (a run that
        resolves nothing sends nothing)."""
        closed = self.primary.resolve(*fingerprints, run_id=run_id)
        if closed:
            self._each_secondary(
                f"resolve {', '.join(closed)}", lambda m: m.resolve(*fingerprints, run_id=run_id)
            )
        return closed

    def open_alerts(self, source: str | None = None) -> list[Alert]:
        """The primary's open alerts."""
        return self.primary.open_alerts(source)

    def recent_alerts(self, limit: int = 50, *, unacknowledged_only: bool = False) -> list[Alert]:
        """The primary's newest alerts."""
        return self.primary.recent_alerts(limit, unacknowledged_only=unacknowledged_only)

    def acknowledge(self, alert_id: str) -> None:
        """Acknowledge on every monitor (the primary must know the id)."""
        self.primary.acknowledge(alert_id)
        self._each_secondary(f"acknowledge {alert_id}", lambda m: m.acknowledge(alert_id))

    def flush(self) -> None:
        """Flush every monitor."""
        self.primary.flush()
        self._each_secondary("flush", lambda m: m.flush())
