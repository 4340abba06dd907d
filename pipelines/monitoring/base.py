"""The monitoring interface (requirements 5.1 metrics, 5.3 alerts) and declarative alert rules.

A `Monitor` records metrics and raises alerts; `LocalMonitor` (warehouse tables) is the default,
`CloudWatchMonitor` the AWS adapter, `FanOutMonitor` sends to several. `AlertRule`s are evaluated
over one run's metrics here, and the same rules become CloudWatch alarms at scale.

An alert raised with a fingerprint (what it is about) stays one open alert while its problem
lasts: a repeat adds to its `occurrences` and `last_seen_at`, and `resolve` closes it once the
problem is gone. Rule alerts are fingerprinted by source, metric and dimensions, like a CloudWatch
alarm, plus the run's `scope` when it has one (the input file of an ingest): open while runs
breach the rule, resolved by the first run of the same pipeline (and scope) that does not.
"""

from __future__ import annotations

import logging
import math
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal, Protocol, runtime_checkable

from core.errors import MonitoringError as MonitoringError  # re-exported for callers

log = logging.getLogger(__name__)

Severity = Literal["info", "warning", "critical"]
Unit = Literal["count", "seconds", "milliseconds", "ratio", "percent", "bytes", "none"]
Op = Literal[">", ">=", "<", "<="]

SEVERITY_RANK: Final[Mapping[Severity, int]] = {"info": 0, "warning": 1, "critical": 2}

_OPS: Final[Mapping[Op, Callable[[float, float], bool]]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
_OP_WORDS: Final[Mapping[Op, str]] = {">": "gt", ">=": "ge", "<": "lt", "<=": "le"}

# Units of the metric names pipelines share; anything else is inferred from its suffix.
_KNOWN_UNITS: Final[Mapping[str, Unit]] = {
    "duration_s": "seconds",
    "quarantine_rate": "ratio",
    "run_failed": "count",
    "retries_exhausted": "count",
}
_SUFFIX_UNITS: Final[tuple[tuple[str, Unit], ...]] = (
    ("_s", "seconds"),
    ("_ms", "milliseconds"),
    ("_rate", "ratio"),
    ("_ratio", "ratio"),
    ("_pct", "percent"),
    ("_bytes", "bytes"),
)


_LOG_LEVELS: Final[Mapping[Severity, int]] = {
    "info": logging.INFO,
    "warning": logging.WARNING,
    "critical": logging.ERROR,
}


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Metric:
    """One data point a pipeline emitted."""

    name: str
    value: float
    unit: Unit = "count"
    run_id: str | None = None
    dimensions: Mapping[str, str] = field(default_factory=dict)
    recorded_at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class Alert:
    """One alert as stored by a monitor."""

    alert_id: str
    raised_at: datetime
    severity: Severity
    source: str
    message: str
    run_id: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    acknowledged: bool = False
    fingerprint: str | None = None
    """What the alert is about; None: a one-off alert, never merged or resolved."""
    occurrences: int = 1
    last_seen_at: datetime | None = None
    resolved_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        """Not resolved yet (whether or not someone acknowledged it)."""
        return self.resolved_at is None


def fingerprint_for(source: str, metric: str, dimensions: Mapping[str, str] | None = None) -> str:
    """A rule alert's fingerprint: `ingest:crm quarantine_rate entity=venues pipeline=ingest`."""
    dims = "".join(f" {name}={value}" for name, value in sorted((dimensions or {}).items()))
    return f"{source} {metric}{dims}"


def log_alert(alert: Alert) -> None:
    """Log an alert at the level its severity calls for (critical → ERROR)."""
    log.log(
        _LOG_LEVELS[alert.severity],
        "%s alert %s from %s: %s (run %s)",
        alert.severity,
        alert.alert_id,
        alert.source,
        alert.message,
        alert.run_id or "-",
    )


@runtime_checkable
class Monitor(Protocol):
    """Where pipelines send metrics and alerts."""

    def metric(
        self,
        name: str,
        value: float,
        *,
        unit: Unit = "count",
        run_id: str | None = None,
        dimensions: Mapping[str, str] | None = None,
    ) -> None:
        """Record one data point (a backend may buffer it until `flush`)."""
        ...

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
        """Raise an alert and return its id.

        With a `fingerprint` that an open alert already has, that alert is updated (occurrences,
        last seen, severity, message, run) and its id returned instead.

        `alert_id` makes this a copy of an alert another monitor raised under that id (what a
        fan-out sends its secondaries): stored and counted, but not logged again.
        """
        ...

    def resolve(self, *fingerprints: str, run_id: str | None = None) -> list[str]:
        """Close the open alerts with these fingerprints; return the ids closed."""
        ...

    def recent_alerts(self, limit: int = 50, *, unacknowledged_only: bool = False) -> list[Alert]:
        """The newest alerts first."""
        ...

    def open_alerts(self, source: str | None = None) -> list[Alert]:
        """The alerts not resolved yet (of one source, if given), oldest first."""
        ...

    def acknowledge(self, alert_id: str) -> None:
        """Mark an alert as seen; unknown ids raise `MonitoringError`."""
        ...

    def flush(self) -> None:
        """Send anything buffered."""
        ...


@dataclass(frozen=True)
class AlertRule:
    """Raise an alert of `severity` when `metric <op> threshold` holds for a run.

    `message` is a format string over `value`, `threshold` and `metric`,
    e.g. "quarantine rate {value:.1%} is above {threshold:.0%}".
    """

    metric: str
    op: Op
    threshold: float
    severity: Severity
    message: str
    name: str = ""

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise ValueError(f"op must be one of {sorted(_OPS)}; got {self.op!r}")
        if self.severity not in SEVERITY_RANK:
            raise ValueError(
                f"severity must be one of {sorted(SEVERITY_RANK)}; got {self.severity!r}"
            )
        if not self.name:
            # A stable, alarm-safe name ("quarantine_rate-gt-0.05") so CloudWatch alarms created
            # from the same rules are updated in place rather than duplicated.
            object.__setattr__(
                self, "name", f"{self.metric}-{_OP_WORDS[self.op]}-{self.threshold:g}"
            )

    def breached(self, value: float) -> bool:
        """Whether `value` breaks this rule (NaN never does)."""
        return not math.isnan(value) and _OPS[self.op](value, self.threshold)

    def render(self, value: float) -> str:
        """The alert message for `value`."""
        return self.message.format(value=value, threshold=self.threshold, metric=self.metric)


DURATION_WARNING_S: Final = 900.0
"""A run slower than 15 minutes misses requirement 2.1 (normalised within 15 minutes)."""

DEFAULT_RULES: Final[tuple[AlertRule, ...]] = (
    AlertRule(
        metric="quarantine_rate",
        op=">",
        threshold=0.05,
        severity="warning",
        message="quarantine rate {value:.1%} is above {threshold:.0%}; check the source's data",
    ),
    AlertRule(
        metric="quarantine_rate",
        op=">",
        threshold=0.25,
        severity="critical",
        message="quarantine rate {value:.1%} is above {threshold:.0%}; has the source changed?",
    ),
    AlertRule(
        metric="run_failed",
        op=">=",
        threshold=1,
        severity="critical",
        message="the run failed; see pipeline_runs.error",
    ),
    AlertRule(
        metric="retries_exhausted",
        op=">=",
        threshold=1,
        severity="critical",
        message="{value:.0f} step(s) still failed after every retry (requirement 2.5)",
    ),
    AlertRule(
        metric="duration_s",
        op=">",
        threshold=DURATION_WARNING_S,
        severity="warning",
        message="the run took {value:.0f} s, over the {threshold:.0f} s budget",
    ),
)
"""The rules every pipeline run is checked against unless it passes its own."""


def unit_for(name: str) -> Unit:
    """The unit of a metric, from the shared names or the name's suffix (`_s`, `_rate`, ...)."""
    if name in _KNOWN_UNITS:
        return _KNOWN_UNITS[name]
    for suffix, unit in _SUFFIX_UNITS:
        if name.endswith(suffix):
            return unit
    return "count"


def evaluate_rules(
    monitor: Monitor,
    metrics: Mapping[str, float],
    rules: Iterable[AlertRule] = DEFAULT_RULES,
    *,
    run_id: str | None,
    source: str,
    dimensions: Mapping[str, str] | None = None,
    scope: Mapping[str, str] | None = None,
) -> list[str]:
    """Raise an alert for each metric that breaks a rule; return the alert ids.

    Per metric only the most severe breached rule fires, so a 30 % quarantine rate raises one
    critical alert rather than a warning and a critical one. Metrics a run did not emit are skipped.
    Each alert's fingerprint is its source, metric, `dimensions` and `scope`: a repeat updates the
    open alert, and a metric back within every rule resolves it. `scope` narrows what the alert is
    about below the metric's dimensions (e.g. `{"input": <file>}`: one file's recovery does not
    close another's alert); such a run also resolves the unscoped alert of older releases.
    """
    rules = tuple(rules)
    keys = {**(dimensions or {}), **(scope or {})}
    worst: dict[str, tuple[AlertRule, float]] = {}
    for rule in rules:
        value = metrics.get(rule.metric)
        if value is None or not rule.breached(float(value)):
            continue
        current = worst.get(rule.metric)
        if current is None or SEVERITY_RANK[rule.severity] > SEVERITY_RANK[current[0].severity]:
            worst[rule.metric] = (rule, float(value))
    healthy = {
        rule.metric
        for rule in rules
        if rule.metric not in worst and metrics.get(rule.metric) is not None
        and not math.isnan(float(metrics[rule.metric]))
    }  # fmt: skip
    if healthy:
        recovered = [fingerprint_for(source, m, keys) for m in sorted(healthy)]
        if scope:  # alerts raised before scopes existed could belong to any input
            recovered += [fingerprint_for(source, m, dimensions) for m in sorted(healthy)]
        monitor.resolve(*recovered, run_id=run_id)
    raised = []
    for rule, value in worst.values():
        details = {
            "rule": rule.name,
            "metric": rule.metric,
            "op": rule.op,
            "threshold": rule.threshold,
            "value": value,
        }
        raised.append(
            monitor.alert(
                rule.severity, source, rule.render(value), run_id=run_id, details=details,
                fingerprint=fingerprint_for(source, rule.metric, keys),
            )
        )  # fmt: skip
    return raised


def record_run(
    monitor: Monitor,
    metrics: Mapping[str, float],
    *,
    run_id: str | None,
    source: str,
    dimensions: Mapping[str, str] | None = None,
    rules: Iterable[AlertRule] = DEFAULT_RULES,
    scope: Mapping[str, str] | None = None,
) -> list[str]:
    """Emit a run's metrics (units inferred from names), flush, then alert on the rules.

    `scope` (e.g. the input file) goes into the alerts' fingerprints only, not into the metrics'
    dimensions: a metric per file would make a CloudWatch metric, and alarm, per file.
    """
    for name, value in metrics.items():
        monitor.metric(
            name, float(value), unit=unit_for(name), run_id=run_id, dimensions=dimensions
        )
    monitor.flush()
    return evaluate_rules(
        monitor, metrics, rules, run_id=run_id, source=source, dimensions=dimensions, scope=scope
    )
