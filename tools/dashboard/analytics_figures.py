"""The analytics dashboard's plotly figures, built from its data (never from page input).

Points carry the venue or artist they stand for in `customdata`, so a click on a bar or a
line drills into it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, Final

import plotly.graph_objects as go

from tools.dashboard.analytics_data import AnalyticsData, Detail, Venue
from tools.dashboard.figures import _LAYOUT, Panel
from tools.insights.forecast import SalesPrediction
from tools.insights.ranking import VenueRanking
from tools.results import Table

FACTOR_COLOURS: Final = {
    "attendance": "#1565c0",
    "revenue": "#2e7d32",
    "frequency": "#ef6c00",
    "trend": "#6a1b9a",
}
CONFIDENT, DOUBTFUL = "#1565c0", "#c62828"


def _figure(title: str, traces: Sequence[go.BaseTraceType], **layout: Any) -> go.Figure:
    fig = go.Figure(data=list(traces))
    fig.update_layout(title=title, **{**_LAYOUT, **layout})
    return fig


def _column(table: Table, name: str) -> list[Any]:
    at = table.columns.index(name)
    return [row[at] for row in table.rows]


def sales_over_time(
    months: Table | None, title: str = "Tickets and gross per month"
) -> go.Figure | None:
    """Tickets sold per month (bars) and gross (line, right axis)."""
    if not months or not months.rows:
        return None
    x = _column(months, "month")
    traces = [
        go.Bar(name="tickets sold", x=x, y=_column(months, "tickets_sold"), marker_color="#1565c0"),
        go.Scatter(name="gross ($)", x=x, y=_column(months, "gross_revenue"), yaxis="y2",
                   mode="lines+markers", line_color="#2e7d32"),
    ]  # fmt: skip
    return _figure(
        title, traces, yaxis_title="tickets",
        yaxis2={"title": "gross ($)", "overlaying": "y", "side": "right", "rangemode": "tozero",
                "showgrid": False},
        margin={"l": 60, "r": 80, "t": 50, "b": 50},  # room for the gross axis
    )  # fmt: skip


def artist_trends(artist_months: Table | None) -> go.Figure | None:
    """Tickets per month for each top artist; a click on a point opens that artist."""
    if not artist_months or not artist_months.rows:
        return None
    series: dict[str, list[tuple[Any, Any]]] = defaultdict(list)
    for record in artist_months.records():
        series[str(record["artist"])].append((record["month"], record["tickets_sold"]))
    traces = [
        go.Scatter(name=artist, x=[m for m, _ in points], y=[t for _, t in points],
                   mode="lines+markers", customdata=[artist] * len(points),
                   hovertemplate="%{customdata}<br>%{x}: %{y:,} tickets<extra></extra>")
        for artist, points in series.items()
    ]  # fmt: skip
    return _figure("Top artists: tickets per month (click to open)", traces,
                   yaxis_title="tickets", height=380)  # fmt: skip


def venue_ranking(ranking: VenueRanking | None) -> go.Figure | None:
    """The ranked venues' scores split into the factors behind them; a click opens the venue."""
    if not ranking or not ranking.rows:
        return None
    rows = list(reversed(ranking.rows))  # plotly draws the first bar at the bottom
    labels = [f"{r.rank}. {r.venue} ({r.city})" for r in rows]
    traces = [
        go.Bar(name=factor, orientation="h", y=labels,
               x=[round(r.factors[factor]["contribution"], 2) for r in rows],
               customdata=[r.venue_id for r in rows], marker_color=colour,
               hovertemplate="%{y}: " + factor + " %{x:.1f}<extra></extra>")
        for factor, colour in FACTOR_COLOURS.items()
    ]  # fmt: skip
    return _figure("Venue ranking: score by factor (click a venue)", traces, barmode="stack",
                   xaxis_title="score (0-100)", height=max(320, 60 + 26 * len(rows)),
                   margin={"l": 280, "r": 20, "t": 50, "b": 40})  # fmt: skip


def sales_predictions(
    predictions: Sequence[SalesPrediction], venues: dict[str, Venue] | None = None
) -> go.Figure | None:
    """Predicted tickets of scheduled concerts with their 80% interval; low confidence in red.
    A click opens the concert's venue (`venues`: concert id -> venue)."""
    venues = venues or {}

    def venue_of(p: SalesPrediction) -> Venue:
        return venues.get(p.concert_id or "") or Venue(p.venue, p.venue)

    if not predictions:
        return None
    traces = []
    for low, name, colour in ((False, "confidence >= 0.70", CONFIDENT),
                              (True, "low confidence (< 0.70)", DOUBTFUL)):  # fmt: skip
        chosen = [p for p in predictions if p.low_confidence == low]
        if not chosen:
            continue
        traces.append(go.Scatter(
            name=name, mode="markers", x=[p.date for p in chosen],
            y=[p.tickets_sold for p in chosen], marker={"color": colour, "size": 8},
            error_y={"type": "data", "symmetric": False, "color": colour, "thickness": 1,
                     "array": [p.tickets_high - p.tickets_sold for p in chosen],
                     "arrayminus": [p.tickets_sold - p.tickets_low for p in chosen]},
            customdata=[venue_of(p).venue_id for p in chosen],
            text=[f"{p.artist} at {venue_of(p).label()}, confidence {p.confidence:.2f}"
                  for p in chosen],
            hovertemplate="%{text}<br>%{x}: %{y:,} tickets<extra></extra>",
        ))  # fmt: skip
    return _figure("Predicted tickets of scheduled concerts (80% interval)", traces,
                   yaxis_title="tickets")  # fmt: skip


def channel_mix(channels: Table | None) -> go.Figure | None:
    """Tickets of ticket transactions per sales channel."""
    if not channels or not channels.rows:
        return None
    trace = go.Bar(x=_column(channels, "channel"), y=_column(channels, "tickets_sold"),
                   marker_color="#546e7a")  # fmt: skip
    return _figure("Ticket transactions by channel", [trace], yaxis_title="tickets")


def detail_months(detail: Detail) -> go.Figure | None:
    """One venue's or artist's tickets and gross per month."""
    return sales_over_time(
        detail.months, f"{detail.title or detail.name}: tickets and gross per month"
    )


_EMPTY: Final = "Nothing matches these filters."


def build_panels(data: AnalyticsData) -> list[Panel]:
    """The page's charts in order; an empty one says why (the section's note, if any)."""
    notes = data.notes
    return [
        Panel("months", "Sales over time", sales_over_time(data.months),
              notes.get("months", _EMPTY)),
        Panel("artists", "Artist trends", artist_trends(data.artist_months),
              notes.get("artists", _EMPTY)),
        Panel("ranking", "Venue ranking", venue_ranking(data.ranking),
              notes.get("ranking", "No venue has three completed concerts in these filters.")),
        Panel("predictions", "Sales predictions",
              sales_predictions(data.predictions, data.prediction_venues),
              notes.get("predictions", "No scheduled concert matches these filters.")),
        Panel("channels", "Channels", channel_mix(data.channels),
              notes.get("channels", "No ticket transactions match these filters.")),
    ]  # fmt: skip
