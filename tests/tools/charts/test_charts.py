"""Charts from real warehouse query results: every kind, formats, PNG, and bad input."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from core.errors import ValidationError
from tools.charts import Chart, ChartKind, make_chart
from tools.charts.formatting import label, tick_format
from tools.charts.render import PNG_SIGNATURE, find_chromium
from tools.context import ToolContext
from tools.query import runner
from tools.results import Table


def _table(ctx: ToolContext, sql: str) -> Table:
    result = runner.run_sql(ctx, sql)
    return Table(columns=result.columns, rows=result.rows)


def _array(value: Any) -> list[Any]:
    """A plotly JSON array, decoding the typed-buffer form plotly uses for numeric arrays."""
    if isinstance(value, dict):
        return list(np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]))
    return list(value)


@pytest.fixture(scope="module")
def chart_of(ctx: ToolContext) -> Callable[..., Chart]:
    """Draws a chart of one query's result: chart_of("bar", "SELECT ...", color=...)."""

    def draw(kind: ChartKind, sql: str, **options: Any) -> Chart:
        return make_chart(ctx, kind=kind, table=_table(ctx, sql), **options)

    return draw


@pytest.fixture(scope="module")
def by_venue(ctx: ToolContext) -> Table:
    return _table(
        ctx,
        "SELECT v.name AS venue, SUM(p.tickets_sold) AS tickets_sold, "
        "SUM(p.gross_revenue) AS gross_revenue FROM concert_performance p "
        "JOIN venues v USING (venue_id) GROUP BY v.name",
    )


def test_labels_and_number_formats() -> None:
    assert label("tickets_sold") == "Tickets sold"
    assert label("avg_ticket_price") == "Average ticket price"
    assert label("sell_through") == "Sell-through"
    assert label("venue_id") == "Venue ID"
    assert tick_format("gross_revenue") == ("$", ",.0f")
    assert tick_format("sell_through") == ("", ".0%")
    assert tick_format("tickets_sold") == ("", ",.0f")


def test_bar_defaults_top_n_and_formats(ctx: ToolContext, by_venue: Table) -> None:
    chart = make_chart(ctx, kind="bar", table=by_venue)
    bars = chart.plotly["data"][0]
    layout = chart.plotly["layout"]
    assert len(by_venue.rows) > 25 and len(bars["x"]) == 25
    assert chart.note is not None and "top 25" in chart.note
    values = _array(bars["y"])
    assert values == sorted(values, reverse=True)
    assert layout["xaxis"]["title"]["text"] == "Venue"
    assert layout["yaxis"]["title"]["text"] == "Tickets sold"
    assert layout["yaxis"]["tickformat"] == ",.0f"
    assert chart.title == "Tickets sold by venue"
    money = make_chart(ctx, kind="bar", table=by_venue, y="gross_revenue")
    assert money.plotly["layout"]["yaxis"]["tickprefix"] == "$"


def test_line_sorts_dates(chart_of: Callable[..., Chart]) -> None:
    chart = chart_of(
        "line",
        "SELECT strftime(event_date, '%Y-%m') AS month, AVG(sell_through) AS sell_through "
        "FROM concert_performance WHERE sell_through IS NOT NULL GROUP BY 1 ORDER BY 2",
    )
    xs = list(chart.plotly["data"][0]["x"])
    assert xs == sorted(xs) and len(xs) > 3
    assert chart.plotly["layout"]["yaxis"]["tickformat"] == ".0%"


def test_scatter_and_color_groups(chart_of: Callable[..., Chart]) -> None:
    chart = chart_of(
        "scatter",
        "SELECT avg_ticket_price, sell_through, v.venue_type FROM concert_performance p "
        "JOIN venues v USING (venue_id) WHERE sell_through IS NOT NULL",
        color="venue_type",
    )
    assert len(chart.plotly["data"]) > 1
    assert chart.title == "Sell-through vs average ticket price"
    assert chart.plotly["layout"]["xaxis"]["tickprefix"] == "$"


def test_heatmap(chart_of: Callable[..., Chart]) -> None:
    chart = chart_of(
        "heatmap",
        "SELECT dayname(event_date) AS weekday, v.venue_type, SUM(tickets_sold) AS tickets_sold "
        "FROM concert_performance p JOIN venues v USING (venue_id) GROUP BY 1, 2",
    )
    trace = chart.plotly["data"][0]
    assert trace["type"] == "heatmap" and len(trace["x"]) == 7
    assert chart.title == "Tickets sold by venue type and weekday"


def test_map_is_offline(chart_of: Callable[..., Chart]) -> None:
    chart = chart_of(
        "map",
        "SELECT v.name, v.latitude, v.longitude, SUM(p.tickets_sold) AS tickets_sold "
        "FROM concert_performance p JOIN venues v USING (venue_id) GROUP BY ALL",
    )
    trace = chart.plotly["data"][0]
    assert trace["type"] == "scattermap"
    assert chart.plotly["layout"]["map"]["style"] == "white-bg"
    text = json.dumps(chart.plotly)
    assert "http://" not in text and "https://" not in text  # no CDN, no tile servers


def test_missing_column_names_the_available_ones(ctx: ToolContext, by_venue: Table) -> None:
    with pytest.raises(ValidationError, match="available columns: venue, tickets_sold"):
        make_chart(ctx, kind="bar", table=by_venue, y="revenue")


def test_bad_inputs(ctx: ToolContext, by_venue: Table) -> None:
    with pytest.raises(ValidationError, match="not numeric"):
        make_chart(ctx, kind="bar", table=by_venue, y="venue")
    with pytest.raises(ValidationError, match="latitude and longitude"):
        make_chart(ctx, kind="map", table=by_venue)
    with pytest.raises(ValidationError, match="no rows"):
        make_chart(ctx, kind="bar", table=Table(columns=["a", "b"], rows=[]))
    with pytest.raises(ValidationError, match="unknown chart kind"):
        make_chart(ctx, kind="pie", table=by_venue)  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.skipif(find_chromium() is None, reason="Chromium is not installed")
def test_png(ctx: ToolContext, by_venue: Table) -> None:
    chart = make_chart(ctx, kind="bar", table=by_venue, png=True)
    assert chart.png_base64 is not None
    assert base64.b64decode(chart.png_base64).startswith(PNG_SIGNATURE)
    again = make_chart(ctx, kind="scatter", table=by_venue, png=True)
    assert again.png_base64 is not None and again.png_base64 != chart.png_base64
