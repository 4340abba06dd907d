"""make_chart: a bar, line, scatter, heatmap or venue map from a Table, as plotly JSON (and PNG).

Figures are assembled here from the table's values; nothing the caller sends is executed.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, Field

from core.errors import ValidationError
from tools.charts.render import render_png
from tools.context import ToolContext
from tools.results import Table

ChartKind = Literal["bar", "line", "scatter", "heatmap", "map"]
KINDS: tuple[str, ...] = ("bar", "line", "scatter", "heatmap", "map")


class Chart(BaseModel):
    """A chart: plotly figure JSON to render, and PNG (base64) for clients that cannot render."""

    kind: str
    title: str
    plotly: dict[str, Any] = Field(description="plotly figure JSON (data, layout)")
    png_base64: str | None = Field(None, description="PNG image, base64, when png=true")
    note: str | None = Field(None, description="what was left out, e.g. top 25 of 120 bars")


def make_chart(
    ctx: ToolContext,
    *,
    kind: ChartKind,
    table: Table,
    x: str | None = None,
    y: str | None = None,
    color: str | None = None,
    title: str | None = None,
    png: bool = False,
) -> Chart:
    """Draw a chart from a query result (a Table with columns and rows).

    kind: bar (categories vs a measure; the top 25 bars when there are more), line (a measure
    over dates, sorted by date), scatter (two measures; color groups the points), heatmap (two
    categories with `color` as the measure shown as colour), map (venues placed by their
    latitude/longitude columns and sized by `y`). When x/y are omitted, x is the first text or
    date column and y the first numeric one. Set png=true for an image as well as plotly JSON.
    """
    if kind not in KINDS:
        raise ValidationError(f"unknown chart kind {kind!r}; use one of {', '.join(KINDS)}")
    if not table.rows:
        raise ValidationError("the table has no rows to chart; run a query that returns data")
    # pandas and plotly load with the first chart, not with every server that lists this tool
    import pandas as pd
    import plotly.io as pio

    from tools.charts import plot

    frame = pd.DataFrame(table.rows, columns=table.columns)
    for name in (x, y, color):
        plot.require_column(frame, name)
    figure, used_title, note = plot.BUILDERS[kind](frame, x, y, color, title)
    figure.update_layout(
        title={"text": used_title, "x": 0.02, "xanchor": "left"},
        template="plotly_white",
        margin={"l": 70, "r": 30, "t": 70, "b": 60},
        separators=".,",
        font={"family": "Arial, sans-serif", "size": 13},
    )
    spec: dict[str, Any] = json.loads(pio.to_json(figure, validate=True))
    image = render_png(spec) if png else None
    return Chart(kind=kind, title=used_title, plotly=spec, png_base64=image, note=note)
