"""The dashboard's plotly figures, built from `DashboardData` by our own code.

Each builder returns None when it has nothing to draw, and the page says so in its place.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Final

import plotly.graph_objects as go

from tools.dashboard.data import STALE_AFTER, DashboardData
from tools.dashboard.health import percentile

STATUS_COLOURS: Final = {
    "succeeded": "#2e7d32",
    "failed": "#c62828",
    "skipped": "#9e9e9e",
    "running": "#1565c0",
}
# An empty template, styled here: expanding a named template costs about 0.15 s per figure and
# puts some 9 kB of template into each figure's JSON.
_LAYOUT: Final = {
    "template": "none",
    "font": {"family": "system-ui, sans-serif", "size": 12, "color": "#1f2933"},
    "xaxis": {"gridcolor": "#e4e7eb", "automargin": True},
    "yaxis": {"gridcolor": "#e4e7eb", "automargin": True, "rangemode": "tozero"},
    "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
    "height": 340,
    "legend": {"orientation": "h", "y": -0.2},
}


@dataclass(frozen=True)
class Panel:
    """One chart of the dashboard: its id on the page, its figure, or why there is none."""

    key: str
    title: str
    figure: go.Figure | None
    empty_note: str


def _figure(title: str, traces: list[go.BaseTraceType], **layout: object) -> go.Figure:
    fig = go.Figure(data=traces)
    fig.update_layout(title=title, **{**_LAYOUT, **layout})
    return fig


def runs_over_time(data: DashboardData) -> go.Figure | None:
    """Runs per day, stacked by status."""
    if not data.runs:
        return None
    counts: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for run in data.runs:
        counts[run.status][run.started_at.date()] += 1
    days = sorted({d for per_day in counts.values() for d in per_day})
    traces: list[go.BaseTraceType] = [
        go.Bar(
            name=status,
            x=[d.isoformat() for d in days],
            y=[counts[status].get(d, 0) for d in days],
            marker_color=STATUS_COLOURS.get(status, "#6a1b9a"),
        )
        for status in sorted(counts, key=lambda s: list(STATUS_COLOURS).index(s)
                             if s in STATUS_COLOURS else 99)
    ]  # fmt: skip
    return _figure("Runs per day by status", traces, barmode="stack", xaxis_type="category",
                   yaxis_title="runs")  # fmt: skip


def records_by_source(data: DashboardData) -> go.Figure | None:
    """Records in, accepted and quarantined per source."""
    if not data.runs:
        return None
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for run in data.runs:
        row = totals[run.source]
        row[0] += run.records_in
        row[1] += run.accepted
        row[2] += run.quarantined
    sources = sorted(totals)
    traces: list[go.BaseTraceType] = [
        go.Bar(name=name, x=sources, y=[totals[s][i] for s in sources], marker_color=colour)
        for i, (name, colour) in enumerate(
            (("records in", "#546e7a"), ("accepted", "#2e7d32"), ("quarantined", "#ef6c00"))
        )
    ]
    return _figure("Records per source", traces, barmode="group", yaxis_title="records")


def durations(data: DashboardData) -> go.Figure | None:
    """p50 and p95 run duration per day."""
    per_day: dict[date, list[float]] = defaultdict(list)
    for run in data.runs:
        if run.duration_s is not None:
            per_day[run.started_at.date()].append(run.duration_s)
    if not per_day:
        return None
    days = sorted(per_day)
    x = [d.isoformat() for d in days]
    traces: list[go.BaseTraceType] = [
        go.Scatter(name=name, x=x, y=[percentile(per_day[d], share) for d in days],
                   mode="lines+markers", line_color=colour)
        for name, share, colour in (("p50", 0.5, "#1565c0"), ("p95", 0.95, "#c62828"))
    ]  # fmt: skip
    return _figure("Run duration (seconds)", traces, xaxis_type="category", yaxis_title="s")


def quarantine_reasons(data: DashboardData) -> go.Figure | None:
    """The most frequent quarantine reasons, by the rule broken."""
    if not data.reasons:
        return None
    reasons = list(reversed(data.reasons))  # plotly draws the first bar at the bottom
    trace = go.Bar(
        x=[r.records for r in reasons],
        y=[f"{r.entity} · {r.reason}" for r in reasons],
        orientation="h",
        marker_color="#ef6c00",
    )
    height = max(260, 40 + 28 * len(reasons))
    return _figure(f"Top {len(reasons)} quarantine reasons", [trace], height=height,
                   xaxis_title="records", margin={"l": 260, "r": 20, "t": 50, "b": 40})  # fmt: skip


def quality_by_table(data: DashboardData) -> go.Figure | None:
    """Quality checks passing and over threshold, per table."""
    if not data.quality:
        return None
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for check in data.quality:
        counts[check.entity][0 if check.passed else 1] += 1
    tables = sorted(counts)
    traces: list[go.BaseTraceType] = [
        go.Bar(name="passing", x=tables, y=[counts[t][0] for t in tables], marker_color="#2e7d32"),
        go.Bar(name="failing", x=tables, y=[counts[t][1] for t in tables], marker_color="#c62828"),
    ]
    return _figure("Quality checks per table", traces, barmode="stack", yaxis_title="checks")


def quality_trend(data: DashboardData) -> go.Figure | None:
    """Records flagged per check per day, as the runs in the window recorded them."""
    if not data.quality_trend:
        return None
    series: dict[str, dict[date, int]] = defaultdict(dict)
    for flag in data.quality_trend:
        series[f"{flag.entity}: {flag.check}"][flag.day] = flag.flagged
    days = sorted({f.day for f in data.quality_trend})
    traces: list[go.BaseTraceType] = [
        go.Scatter(name=name, x=[d.isoformat() for d in days],
                   y=[points.get(d, 0) for d in days], mode="lines+markers")
        for name, points in sorted(series.items())
    ]  # fmt: skip
    return _figure("Records flagged by quality checks per day", traces, xaxis_type="category",
                   yaxis_title="records flagged")  # fmt: skip


def freshness(data: DashboardData) -> go.Figure | None:
    """Hours since each table was last loaded; stale tables in red."""
    known = [f for f in data.freshness if f.age_hours is not None]
    if not known:
        return None
    limit_h = STALE_AFTER.total_seconds() / 3600
    trace = go.Bar(
        x=[f.age_hours for f in known],
        y=[f"{f.table} ({f.via})" for f in known],
        orientation="h",
        marker_color=["#c62828" if f.stale else "#2e7d32" for f in known],
    )
    fig = _figure("Hours since last load", [trace], xaxis_title="hours",
                  margin={"l": 200, "r": 20, "t": 50, "b": 40})  # fmt: skip
    fig.add_vline(x=limit_h, line_dash="dash", line_color="#9e9e9e",
                  annotation_text=f"stale after {limit_h:.0f} h")  # fmt: skip
    return fig


_BUILDERS: Final[tuple[tuple[str, str, Callable[[DashboardData], go.Figure | None], str], ...]] = (
    ("runs", "Runs", runs_over_time, "No runs in this window."),
    ("records", "Records", records_by_source, "No runs in this window."),
    ("durations", "Durations", durations, "No finished runs in this window."),
    ("reasons", "Quarantine", quarantine_reasons, "Nothing was quarantined in this window."),
    ("quality", "Quality", quality_by_table, "No quality checks ran."),
    ("quality_trend", "Quality trend", quality_trend,
     "No records were flagged by the runs in this window."),
    ("freshness", "Freshness", freshness, "No table has been loaded yet."),
)  # fmt: skip


def build_panels(data: DashboardData) -> list[Panel]:
    """Every chart of the dashboard, in page order."""
    return [Panel(key, title, build(data), note) for key, title, build, note in _BUILDERS]
