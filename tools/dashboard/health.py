"""The dashboard's summary tiles as one typed result, and the `pipeline_health` tool over it."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from core.errors import ValidationError
from tools.context import ToolContext
from tools.dashboard.data import DashboardData, Filters, collect

_READER_ROLES = frozenset({"analyst", "admin"})
NO_RUNS = "No pipeline runs yet: run `encore pipeline run` (or `encore ingest FILES`) to load data."


def percentile(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile (`share` in 0..1) of `values`; None when there are none."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[max(1, math.ceil(len(ordered) * share)) - 1]


class SourceHealth(BaseModel):
    """One source's runs and records in the window."""

    source: str
    runs: int
    failed: int
    records_in: int
    accepted: int
    quarantined: int


class TableFreshness(BaseModel):
    table: str
    last_load: str | None = Field(description="ISO time of the last load, none if never")
    via: str = Field(description="pipeline (a run loaded it), build (only generated), never")
    age_hours: float | None
    stale: bool


class OpenAlert(BaseModel):
    severity: str
    raised_at: str
    source: str
    message: str
    run_id: str | None


class ModelSummary(BaseModel):
    name: str
    champion: str | None
    trained_at: str | None
    holdout_metric: str | None
    holdout_value: float | None
    drift: str = Field(description="stable, drifted, alert (an open model alert) or unknown")
    drift_detail: str


class PipelineHealth(BaseModel):
    """Pipeline health and data quality over a window: the numbers the dashboard's tiles show."""

    window: str = Field(description="the runs covered: start to end, and the source filter")
    message: str = Field(description="a one-line verdict, or what to do when there is no data")
    runs: int
    runs_by_status: dict[str, int]
    failed_runs: int
    records_in: int
    accepted: int
    quarantined: int
    quarantine_rate: float
    duration_p50_s: float | None
    duration_p95_s: float | None
    sources: list[SourceHealth]
    top_quarantine_reasons: list[dict[str, Any]] = Field(
        description="entity, reason (the broken rule), records"
    )
    quality_checks: int
    quality_failing: list[str] = Field(description="'entity: check' of checks over threshold")
    freshness: list[TableFreshness]
    open_alerts: list[OpenAlert]
    models: list[ModelSummary]
    recent_errors: list[str] = Field(description="'run id: error' of the latest failed runs")


def summarize(data: DashboardData) -> PipelineHealth:
    """The tiles' numbers from collected dashboard data."""
    runs = data.runs
    by_status = dict(Counter(r.status for r in runs))
    records_in = sum(r.records_in for r in runs)
    quarantined = sum(r.quarantined for r in runs)
    durations = [r.duration_s for r in runs if r.duration_s is not None]
    per_source: dict[str, SourceHealth] = {}
    for r in runs:
        s = per_source.setdefault(r.source, SourceHealth(source=r.source, runs=0, failed=0,
                                  records_in=0, accepted=0, quarantined=0))  # fmt: skip
        s.runs += 1
        s.failed += r.status == "failed"
        s.records_in += r.records_in
        s.accepted += r.accepted
        s.quarantined += r.quarantined
    failing = [f"{q.entity}: {q.check}" for q in data.quality if not q.passed]
    failed = by_status.get("failed", 0)
    return PipelineHealth(
        window=data.filters.describe(),
        message=_verdict(data, failed, len(failing)),
        runs=len(runs),
        runs_by_status=by_status,
        failed_runs=failed,
        records_in=records_in,
        accepted=sum(r.accepted for r in runs),
        quarantined=quarantined,
        quarantine_rate=round(quarantined / records_in, 6) if records_in else 0.0,
        duration_p50_s=percentile(durations, 0.5),
        duration_p95_s=percentile(durations, 0.95),
        sources=sorted(per_source.values(), key=lambda s: s.source),
        top_quarantine_reasons=[
            {"entity": r.entity, "reason": r.reason, "records": r.records} for r in data.reasons
        ],
        quality_checks=len(data.quality),
        quality_failing=failing,
        freshness=[
            TableFreshness(
                table=f.table,
                last_load=f.last_load.isoformat() if f.last_load else None,
                via=f.via,
                age_hours=round(f.age_hours, 2) if f.age_hours is not None else None,
                stale=f.stale,
            )
            for f in data.freshness
        ],
        open_alerts=[
            OpenAlert(
                severity=a.severity,
                raised_at=a.raised_at.isoformat(),
                source=a.source,
                message=a.message,
                run_id=a.run_id,
            )
            for a in data.alerts
        ],
        models=[
            ModelSummary(
                name=m.name,
                champion=m.champion,
                trained_at=m.trained_at.isoformat() if m.trained_at else None,
                holdout_metric=m.holdout_metric,
                holdout_value=m.holdout_value,
                drift=m.drift,
                drift_detail=m.drift_detail,
            )
            for m in data.models
        ],
        recent_errors=[
            f"{r.run_id}: {(r.error or 'no error recorded')[:200]}"
            for r in reversed(runs)
            if r.status == "failed"
        ][:5],
    )


def _verdict(data: DashboardData, failed: int, failing_checks: int) -> str:
    if data.problem:
        return data.problem
    if data.empty:
        if data.built:  # data, but none of it came through a pipeline: nothing to judge runs by
            return (
                f"The warehouse was {data.built}; no pipeline has loaded data into it since, so "
                "there are no runs, quarantined rows or alerts to report. Load data with "
                "`encore pipeline run` or `encore ingest FILES`."
            )
        return NO_RUNS
    if not data.runs:
        return f"No runs match {data.filters.describe()}; widen the dates or drop the source."
    critical = sum(a.severity == "critical" for a in data.alerts)
    problems = [
        f"{failed} failed run(s)" if failed else "",
        f"{critical} critical alert(s) open" if critical else "",
        f"{failing_checks} quality check(s) over threshold" if failing_checks else "",
    ]
    found = [p for p in problems if p]
    return "Needs attention: " + ", ".join(found) if found else "Healthy: no failures or alerts."


def pipeline_health(
    ctx: ToolContext, *, days: int = 30, source: str | None = None
) -> PipelineHealth:
    """Pipeline health and data quality over the last `days` days (optionally one `source`):
    runs by status and failures, records in/accepted/quarantined per source, run durations
    (p50/p95), the top quarantine reasons, quality checks over threshold, how long since each
    table was loaded, open alerts and model health. Use it for "is the data OK?", "did the
    pipelines fail?", "how fresh is the data?". Operations data: analysts and admins only.
    """
    if ctx.role not in _READER_ROLES:
        raise ValidationError(
            f"the {ctx.role!r} role may not see pipeline operations; ask an analyst or admin",
            role=ctx.role,
        )
    if not 1 <= days <= 3650:
        raise ValidationError(f"days must be between 1 and 3650; got {days}", days=days)
    return summarize(collect(ctx.settings, Filters.last(days, source)))
