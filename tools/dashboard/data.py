"""What the pipeline-health dashboard shows, read from the warehouse and the model registry.

Sources: the run ledger (`pipeline_runs`), `quarantine`, `alerts`, `quality_flags`, the quality
checks (`pipelines.quality.assess`, run live and read-only), `warehouse_builds`, and the model
registry. One read-only connection per `collect`; nothing is written.
"""

from __future__ import annotations

import importlib
import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final, Literal

import duckdb

from core.errors import EncoreError, ValidationError, WarehouseError
from core.settings import Settings
from core.warehouse import CONTRACT_TABLES, reading
from models.registry import ModelRegistry, ModelVersion
from pipelines.ledger import utc_now

log = logging.getLogger(__name__)

STALE_AFTER: Final = timedelta(days=7)
"""A table not loaded for this long is stale (the quality report's freshness rule)."""

TOP_REASONS: Final = 10

# The holdout metric each model is promoted on (PRIMARY_METRIC in its module; importing those
# modules would load scikit-learn just to read a name).
_HOLDOUT_METRIC: Final = {
    "sales_forecast": "mape",
    "recommender": "ndcg@10",
    "venue_ranking": "venues",
}

# A quarantine reason reads "capacity: invalid_integer (got abc)"; the value is cut so reasons
# group by rule and no record's content reaches the dashboard.
_REASON_SQL: Final = r"regexp_replace(reason, ' \(got .*\)$', '')"


@dataclass(frozen=True)
class Filters:
    """Which runs the dashboard covers: `start <= started_at < end`, optionally one source."""

    start: datetime
    end: datetime
    source: str | None = None

    @classmethod
    def last(
        cls,
        days: int = 30,
        source: str | None = None,
        *,
        since: date | None = None,
        until: date | None = None,
        now: datetime | None = None,
    ) -> Filters:
        """The last `days` days up to now, or the whole days `since`..`until` when given."""
        # The ledger stores naive UTC (pipelines.ledger), so the window does too.
        current = now or utc_now()
        end = datetime.combine(until + timedelta(days=1), time()) if until else current
        start = datetime.combine(since, time()) if since else end - timedelta(days=max(1, days))
        if start >= end:
            raise ValidationError(f"the date range is empty: {start:%Y-%m-%d} is not before {end}")
        return cls(start, end, source or None)

    def describe(self) -> str:
        where = f"source {self.source}" if self.source else "every source"
        return f"{self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M}, {where}"


@dataclass(frozen=True)
class RunRow:
    run_id: str
    pipeline: str
    source: str
    entity: str | None
    status: str
    started_at: datetime
    duration_s: float | None
    records_in: int
    accepted: int
    quarantined: int
    error: str | None


@dataclass(frozen=True)
class ReasonCount:
    entity: str
    reason: str
    records: int


@dataclass(frozen=True)
class AlertRow:
    alert_id: str
    raised_at: datetime
    severity: str
    source: str
    message: str
    run_id: str | None


@dataclass(frozen=True)
class QualityRow:
    entity: str
    check: str
    dimension: str
    severity: str
    rows: int
    flagged: int
    share: float
    threshold: float
    passed: bool


@dataclass(frozen=True)
class FlagCount:
    day: date
    entity: str
    check: str
    flagged: int


@dataclass(frozen=True)
class Freshness:
    table: str
    last_load: datetime | None
    via: Literal["pipeline", "build", "never"]
    age_hours: float | None

    @property
    def stale(self) -> bool:
        return self.age_hours is None or self.age_hours > STALE_AFTER.total_seconds() / 3600


DriftStatus = Literal["stable", "drifted", "alert", "unknown"]
DriftMode = Literal["off", "measure", "background"]


@dataclass(frozen=True)
class ModelHealth:
    name: str
    champion: str | None
    trained_at: datetime | None
    holdout_metric: str | None
    holdout_value: float | None
    versions: int
    drift: DriftStatus
    drift_detail: str


@dataclass
class DashboardData:
    """Everything the dashboard draws, for one set of filters."""

    filters: Filters
    generated_at: datetime
    warehouse: str
    problem: str | None = None
    """Why nothing could be read (no warehouse yet); the page then shows only this."""
    sources: list[str] = field(default_factory=list)
    runs_ever: int = 0
    built: str | None = None
    """How the warehouse was last built whole (`encore generate` / `demo`), if it was."""
    runs: list[RunRow] = field(default_factory=list)
    reasons: list[ReasonCount] = field(default_factory=list)
    alerts: list[AlertRow] = field(default_factory=list)
    model_alerts: list[AlertRow] = field(default_factory=list)
    """Open alerts of models, whatever the source filter (they feed model health)."""
    quality: list[QualityRow] = field(default_factory=list)
    quality_trend: list[FlagCount] = field(default_factory=list)
    freshness: list[Freshness] = field(default_factory=list)
    models: list[ModelHealth] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """No pipeline has ever run here (a fresh or generated-only warehouse)."""
        return self.runs_ever == 0


def collect(settings: Settings, filters: Filters, *, drift: DriftMode = "off") -> DashboardData:
    """Read the dashboard's data; a missing warehouse gives `problem`, never an exception.

    Drift status comes from the models' open alerts; `drift="measure"` also measures the sales
    forecaster's drift (seconds) when a champion exists, and `"background"` starts measuring and
    shows the result on a later call (for servers).
    """
    data = DashboardData(filters, utc_now(), str(settings.warehouse_file))
    if not settings.warehouse_file.exists():
        data.problem = (
            f"No warehouse at {settings.warehouse_file} yet. Build one with `encore demo` "
            "(or `encore generate`), then load data with `encore pipeline run`."
        )
        return data
    try:
        with reading(settings) as con:
            _read_warehouse(con, filters, data)
    except (WarehouseError, duckdb.CatalogException) as exc:
        # an old file without the operations tables reads as a catalog error
        data.problem = f"Cannot read the warehouse at {settings.warehouse_file}: {exc}"
        return data
    data.models = _models(settings, data.model_alerts, drift=drift)
    return data


def _read_warehouse(con: duckdb.DuckDBPyConnection, filters: Filters, data: DashboardData) -> None:
    data.sources = [r[0] for r in con.execute(_SOURCES_SQL).fetchall()]
    data.runs_ever = _scalar(con, "SELECT count(*) FROM pipeline_runs")
    build = con.execute(
        "SELECT source, built_at, total_rows FROM warehouse_builds ORDER BY built_at DESC LIMIT 1"
    ).fetchall()
    if build:
        source, built_at, rows = build[0]
        data.built = f"built by {source} on {built_at:%Y-%m-%d %H:%M} UTC ({rows:,} rows)"
    window = [filters.start, filters.end, filters.source, filters.source]
    data.runs = [RunRow(*row) for row in con.execute(_RUNS_SQL, window).fetchall()]
    data.reasons = [
        ReasonCount(*row) for row in con.execute(_REASONS_SQL, [*window, TOP_REASONS]).fetchall()
    ]
    # An open alert stays on the board whatever its age; the source filter still applies.
    alerts = _ALERTS_SQL.format(open=_OPEN if _has_column(con, "alerts", "resolved_at") else "")
    data.alerts = [AlertRow(*row) for row in con.execute(alerts, [filters.source] * 3).fetchall()]
    data.model_alerts = [AlertRow(*row) for row in con.execute(_MODEL_ALERTS_SQL).fetchall()]
    data.quality = _quality(con)
    data.quality_trend = [FlagCount(*row) for row in con.execute(_FLAGS_SQL, window).fetchall()]
    data.freshness = _freshness(con, filters.source, data.generated_at)


_SOURCES_SQL: Final = "SELECT DISTINCT source FROM pipeline_runs ORDER BY 1"

_IN_WINDOW: Final = "started_at >= ? AND started_at < ? AND (? IS NULL OR source = ?)"

_RUNS_SQL: Final = f"""
    SELECT run_id, pipeline, source, entity, status, started_at,
           epoch(finished_at - started_at), records_in, accepted, quarantined, error
    FROM pipeline_runs WHERE {_IN_WINDOW} ORDER BY started_at"""

_REASONS_SQL: Final = f"""
    SELECT q.entity, {_REASON_SQL} AS rule, count(*) AS records
    FROM quarantine q, unnest(q.reasons) AS r(reason)
    WHERE q.run_id IN (SELECT run_id FROM pipeline_runs WHERE {_IN_WINDOW})
    GROUP BY ALL ORDER BY records DESC, q.entity, rule LIMIT ?"""

# Alerts name their source "ingest:<source>" or "model:<name>"; with a source filter, an alert
# belongs to it by that name or through the run that raised it.
_OPEN: Final = "AND resolved_at IS NULL"
"""Alerts whose input recovered are resolved (migration 0005): off the board. A warehouse no
writer has opened since that migration has no such column, and reads without the filter."""
_ALERTS_SQL: Final = """
    SELECT alert_id, raised_at, severity, source, message, run_id FROM alerts
    WHERE NOT acknowledged {open} AND (
        ? IS NULL OR source = 'ingest:' || ?
        OR run_id IN (SELECT run_id FROM pipeline_runs WHERE source = ?))
    ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END,
             raised_at DESC"""

_MODEL_ALERTS_SQL: Final = """
    SELECT alert_id, raised_at, severity, source, message, run_id FROM alerts
    WHERE NOT acknowledged AND source LIKE 'model:%' ORDER BY raised_at DESC"""

_FLAGS_SQL: Final = f"""
    SELECT CAST(f.flagged_at AS DATE) AS day, f.entity, f.check_name, count(*)
    FROM quality_flags f
    WHERE f.run_id IN (SELECT run_id FROM pipeline_runs WHERE {_IN_WINDOW})
    GROUP BY ALL ORDER BY day, f.entity, f.check_name"""


def _quality(con: duckdb.DuckDBPyConnection) -> list[QualityRow]:
    from pipelines.quality import assess

    report = assess(con, record_flags=False)
    return [
        QualityRow(
            r.entity, r.name, r.dimension, r.severity, r.rows, r.flagged, r.share, r.threshold,
            r.passed,
        )
        for r in report.results
    ]  # fmt: skip


def _freshness(
    con: duckdb.DuckDBPyConnection, source: str | None, now: datetime
) -> list[Freshness]:
    """Last successful pipeline load per table; tables only ever built fall back to the build."""
    loads = dict(
        con.execute(
            "SELECT entity, max(finished_at) FROM pipeline_runs "
            "WHERE status = 'succeeded' AND entity IS NOT NULL AND (? IS NULL OR source = ?) "
            "GROUP BY entity",
            [source, source],
        ).fetchall()
    )
    built = con.execute("SELECT max(built_at) FROM warehouse_builds").fetchone()
    built_at = built[0] if built else None
    rows = []
    for table in sorted(set(CONTRACT_TABLES) - {"concert_performance"} | set(loads)):
        last = loads.get(table)
        via: Literal["pipeline", "build", "never"] = "pipeline"
        if last is None and built_at is not None and source is None:
            last, via = built_at, "build"
        elif last is None:
            via = "never"
        age = (now - last).total_seconds() / 3600 if last else None
        rows.append(Freshness(table, last, via, age))
    return rows


def _models(
    settings: Settings, alerts: Sequence[AlertRow], *, drift: DriftMode
) -> list[ModelHealth]:
    registry = ModelRegistry(settings)
    found = []
    for name in registry.models():
        versions = registry.versions(name)
        champion = registry.current(name)
        latest = champion or (versions[-1] if versions else None)
        metric = _HOLDOUT_METRIC.get(name) or _first_metric(latest)
        value = latest.metrics.get(metric) if latest and metric else None
        status: DriftStatus
        status, detail = _drift_from_alerts(name, alerts)
        if drift != "off" and name == "sales_forecast" and champion is not None:
            status, detail = _live_drift(
                settings, champion.version, (status, detail), wait=drift == "measure"
            )
        found.append(
            ModelHealth(
                name,
                champion.version if champion else None,
                latest.trained_at if latest else None,
                metric,
                value,
                len(versions),
                status,
                detail,
            )
        )
    return found


def _first_metric(version: ModelVersion | None) -> str | None:
    return next(iter(sorted(version.metrics)), None) if version else None


def _drift_from_alerts(
    name: str, alerts: Sequence[AlertRow]
) -> tuple[Literal["alert", "unknown"], str]:
    mine = [a for a in alerts if a.source == f"model:{name}"]
    if mine:
        return "alert", f"{mine[0].severity} {mine[0].raised_at:%Y-%m-%d}: {mine[0].message}"
    return "unknown", "no open alert; run `encore drift` to measure"


# Drift changes only when the data or the model does, and measuring it takes seconds (seven when
# scikit-learn is not loaded yet): a long-lived server (the chat UI) measures once per warehouse
# file version and champion, in the background so no page waits for it.
_DRIFT_CACHE: dict[tuple[str, int, str], tuple[DriftStatus, str]] = {}
_DRIFT_MEASURING: set[tuple[str, int, str]] = set()
_DRIFT_LOCK = threading.Lock()


def _live_drift(
    settings: Settings,
    champion: str,
    fallback: tuple[Literal["alert", "unknown"], str],
    *,
    wait: bool,
) -> tuple[DriftStatus, str]:
    path = settings.warehouse_file.resolve()
    key = (str(path), path.stat().st_mtime_ns, champion)
    with _DRIFT_LOCK:
        measured = _DRIFT_CACHE.get(key)
    if measured is None and wait:
        measured = _remember(key, _measure_drift(settings))
    elif measured is None:
        _measure_in_background(settings, key)
        if fallback[0] == "alert":
            return fallback
        return "unknown", "being measured now; reload in a few seconds"
    status, detail = measured
    if fallback[0] == "alert" and status != "drifted":
        # an open alert (e.g. live error well over holdout) is not cleared by a calm PSI
        return "alert", f"{fallback[1]}; now {detail}"
    return status, detail


def _remember(
    key: tuple[str, int, str], measured: tuple[DriftStatus, str]
) -> tuple[DriftStatus, str]:
    with _DRIFT_LOCK:
        for old in [k for k in _DRIFT_CACHE if k[0] == key[0]]:
            del _DRIFT_CACHE[old]  # only a warehouse's newest data is asked about again
        _DRIFT_CACHE[key] = measured
        _DRIFT_MEASURING.discard(key)
    return measured


def _measure_in_background(settings: Settings, key: tuple[str, int, str]) -> None:
    with _DRIFT_LOCK:
        if key in _DRIFT_MEASURING:
            return
        _DRIFT_MEASURING.add(key)
    # Imported here first: plotly, drawing in this thread, looks numpy and pandas up in
    # sys.modules, and would find them half-initialised while the measuring thread imports them.
    importlib.import_module("numpy")
    importlib.import_module("pandas")
    threading.Thread(
        target=lambda: _remember(key, _measure_drift(settings)),
        name="encore-dashboard-drift",
        daemon=True,
    ).start()


def _measure_drift(settings: Settings) -> tuple[DriftStatus, str]:
    from models.monitoring import PSI_ALERT, drift_report

    try:
        report: dict[str, Any] = drift_report(settings, alert=False)
    except (EncoreError, duckdb.Error) as exc:
        log.warning("drift not measured: %s", exc)
        return "unknown", f"drift could not be measured: {exc}"
    prediction = report.get("prediction")
    if not prediction:
        return "unknown", str(report.get("message", "drift not measured"))
    psi = float(prediction["psi"])
    drifted = ", ".join(report.get("drifted_features", [])) or "none"
    detail = f"prediction PSI {psi:.3f} (alert over {PSI_ALERT}); drifted features: {drifted}"
    if math.isnan(psi):
        return "unknown", detail
    return ("drifted" if psi > PSI_ALERT else "stable"), detail


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def as_utc(moment: datetime) -> datetime:
    """A naive warehouse timestamp marked as UTC (alerts are stored in UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _has_column(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    return bool(
        _scalar(
            con,
            "SELECT count(*) FROM duckdb_columns() "
            f"WHERE table_name = '{table}' AND column_name = '{column}'",
        )
    )
