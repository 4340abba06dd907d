"""The figures behind make_chart: one builder per chart kind, from a DataFrame of the table.

Imported by `make_chart` on its first call (pandas and plotly are heavy to import).
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
import re
from typing import Any, Literal

import pandas as pd
import plotly.graph_objects as go

from core.errors import ValidationError
from tools.charts import formatting as fmt

BAR_TOP_N = 25
MAX_POINTS = 20_000
_DATE = re.compile(r"^\d{4}-\d{2}(-\d{2})?([T ][\d:.]+)?$")
_LAT = ("latitude", "lat")
_LON = ("longitude", "lon", "lng")


def require_column(frame: pd.DataFrame, name: str | None) -> None:
    if name is not None and name not in frame.columns:
        available = ", ".join(map(str, frame.columns))
        raise ValidationError(
            f"column {name!r} is not in the table; available columns: {available}",
            column=name,
            available=list(frame.columns),
        )


def _is_numeric(series: pd.Series) -> bool:
    values = series.dropna()
    return len(values) > 0 and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    )


def _is_date(series: pd.Series) -> bool:
    values = series.dropna()
    return len(values) > 0 and all(isinstance(v, str) and _DATE.match(v) for v in values)


def _numeric(frame: pd.DataFrame, skip: tuple[str | None, ...] = ()) -> list[str]:
    return [c for c in frame.columns if c not in skip and _is_numeric(frame[c])]


def _categorical(frame: pd.DataFrame, skip: tuple[str | None, ...] = ()) -> list[str]:
    return [c for c in frame.columns if c not in skip and not _is_numeric(frame[c])]


def _pick(choices: list[str], what: str, frame: pd.DataFrame) -> str:
    if not choices:
        available = ", ".join(map(str, frame.columns))
        raise ValidationError(
            f"the table has no {what} column to plot; available columns: {available}",
            available=list(frame.columns),
        )
    return choices[0]


def _require_numeric(frame: pd.DataFrame, column: str) -> None:
    if not _is_numeric(frame[column]):
        numeric = ", ".join(_numeric(frame)) or "none"
        raise ValidationError(
            f"column {column!r} is not numeric; numeric columns: {numeric}", column=column
        )


def _axis(column: str, numeric: bool) -> dict[str, Any]:
    axis: dict[str, Any] = {"title": {"text": fmt.label(column)}, "automargin": True}
    if numeric:
        prefix, tickformat = fmt.tick_format(column)
        axis.update(tickprefix=prefix, tickformat=tickformat, separatethousands=True)
    return axis


def _hover(x: str, y: str, x_numeric: bool) -> str:
    x_part = f"%{{x:{fmt.hover_format(x)}}}" if x_numeric else "%{x}"
    return f"{fmt.label(x)}: {x_part}<br>{fmt.label(y)}: %{{y:{fmt.hover_format(y)}}}"


Built = tuple[go.Figure, str, str | None]


def _bar(
    frame: pd.DataFrame, x: str | None, y: str | None, color: str | None, title: str | None
) -> Built:
    x = x or _pick(_categorical(frame), "text or date", frame)
    y = y or _pick(_numeric(frame, (x,)), "numeric", frame)
    _require_numeric(frame, y)
    note = None
    if _is_date(frame[x]):
        frame = frame.sort_values(x)
    else:
        totals = frame.groupby(x, sort=False)[y].sum().sort_values(ascending=False)
        if len(totals) > BAR_TOP_N:
            note = f"top {BAR_TOP_N} of {len(totals)} by {fmt.label(y).lower()}"
            frame = frame[frame[x].isin(totals.index[:BAR_TOP_N])]
        order = [k for k in totals.index if k in set(frame[x])]
        frame = frame.set_index(x).loc[order].reset_index() if color is None else frame
    fig = go.Figure()
    for name, part in _groups(frame, color):
        fig.add_bar(x=part[x].astype(str), y=part[y], name=name, hovertemplate=_hover(x, y, False))
    fig.update_layout(
        xaxis=_axis(x, False), yaxis=_axis(y, True), barmode="group", showlegend=color is not None
    )
    base = title or fmt.title_for("bar", x, y, color)
    return fig, base, note


def _line(
    frame: pd.DataFrame, x: str | None, y: str | None, color: str | None, title: str | None
) -> Built:
    dates = [c for c in _categorical(frame) if _is_date(frame[c])]
    x = x or (dates[0] if dates else _pick(_categorical(frame), "text or date", frame))
    y = y or _pick(_numeric(frame, (x, color)), "numeric", frame)
    _require_numeric(frame, y)
    frame = frame.sort_values(x, kind="stable")
    fig = go.Figure()
    for name, part in _groups(frame, color):
        fig.add_scatter(
            x=part[x], y=part[y], mode="lines+markers", name=name, hovertemplate=_hover(x, y, False)
        )
    fig.update_layout(xaxis=_axis(x, False), yaxis=_axis(y, True), showlegend=color is not None)
    return fig, title or fmt.title_for("line", x, y, color), None


def _scatter(
    frame: pd.DataFrame, x: str | None, y: str | None, color: str | None, title: str | None
) -> Built:
    numeric = _numeric(frame, (color,))
    x = x or _pick(numeric, "numeric", frame)
    y = y or _pick([c for c in numeric if c != x], "second numeric", frame)
    _require_numeric(frame, x)
    _require_numeric(frame, y)
    note = None
    if len(frame) > MAX_POINTS:
        note = f"a sample of {MAX_POINTS} of {len(frame)} points"
        frame = frame.sample(MAX_POINTS, random_state=0)
    fig = go.Figure()
    for name, part in _groups(frame, color):
        fig.add_scatter(
            x=part[x],
            y=part[y],
            mode="markers",
            name=name,
            marker={"opacity": 0.75, "size": 8},
            hovertemplate=_hover(x, y, True),
        )
    fig.update_layout(xaxis=_axis(x, True), yaxis=_axis(y, True), showlegend=color is not None)
    return fig, title or fmt.title_for("scatter", x, y, color), note


def _in_order(value: Any) -> tuple[int, Any]:
    """Numbers (months, years) in numeric order, dates in time order, then text: as text,
    month 10 came before month 2."""
    if isinstance(value, numbers.Real):
        return (0, float(value))
    if isinstance(value, dt.date):
        return (1, pd.Timestamp(value).value)
    return (2, str(value))


def _heatmap(
    frame: pd.DataFrame, x: str | None, y: str | None, color: str | None, title: str | None
) -> Built:
    categories = _categorical(frame)
    x = x or _pick(categories, "text or date", frame)
    y = y or _pick([c for c in categories if c != x], "second text or date", frame)
    color = color or _pick(_numeric(frame, (x, y)), "numeric", frame)
    _require_numeric(frame, color)
    # Averages for prices and rates (summing them means nothing), totals for counts and money.
    how: Literal["mean", "sum"] = (
        "mean" if fmt.is_percent(color) or "price" in color or "avg" in color else "sum"
    )
    grid = frame.pivot_table(index=y, columns=x, values=color, aggfunc=how).sort_index()
    grid = grid.reindex(sorted(grid.columns, key=_in_order), axis=1)
    prefix, tickformat = fmt.tick_format(color)
    fig = go.Figure(
        go.Heatmap(
            z=grid.to_numpy().tolist(),
            x=[str(c) for c in grid.columns],
            y=[str(i) for i in grid.index],
            colorscale="Blues",
            colorbar={
                "title": {"text": fmt.label(color)},
                "tickprefix": prefix,
                "tickformat": tickformat,
            },
            hovertemplate=f"{fmt.label(x)}: %{{x}}<br>{fmt.label(y)}: %{{y}}<br>"
            f"{fmt.label(color)}: %{{z:{fmt.hover_format(color)}}}<extra></extra>",
        )
    )
    fig.update_layout(xaxis=_axis(x, False), yaxis=_axis(y, False))
    return fig, title or fmt.title_for("heatmap", x, y, color), None


def _map(
    frame: pd.DataFrame, x: str | None, y: str | None, color: str | None, title: str | None
) -> Built:
    lat = next((c for c in frame.columns if str(c).lower() in _LAT), None)
    lon = next((c for c in frame.columns if str(c).lower() in _LON), None)
    if lat is None or lon is None:
        available = ", ".join(map(str, frame.columns))
        raise ValidationError(
            f"a map needs latitude and longitude columns; available columns: {available}",
            available=list(frame.columns),
        )
    frame = frame.dropna(subset=[lat, lon])
    name_col = x or next(iter(_categorical(frame, (lat, lon))), None)
    size_col = y or next(iter(_numeric(frame, (lat, lon))), None)
    text = frame[name_col].astype(str) if name_col else None
    marker: dict[str, Any] = {"size": 9, "opacity": 0.7, "color": "#1f77b4"}
    hover = "%{text}" if name_col else "%{lat:.3f}, %{lon:.3f}"
    if size_col is not None:
        _require_numeric(frame, size_col)
        values = frame[size_col].astype(float).clip(lower=0)
        top = float(values.max()) or 1.0
        marker["size"] = (6 + 30 * (values / top) ** 0.5).round(1).tolist()
        hover += f"<br>{fmt.label(size_col)}: %{{customdata:{fmt.hover_format(size_col)}}}"
    fig = go.Figure(
        go.Scattermap(
            lat=frame[lat],
            lon=frame[lon],
            mode="markers",
            marker=marker,
            text=text,
            customdata=frame[size_col] if size_col else None,
            hovertemplate=hover + "<extra></extra>",
        )
    )
    # "white-bg" draws no tiles, so the map needs no internet (the venue dots carry the meaning).
    fig.update_layout(
        map={
            "style": "white-bg",
            "center": {"lat": float(frame[lat].mean()), "lon": float(frame[lon].mean())},
            "zoom": _zoom(frame[lat], frame[lon]),
        },
        showlegend=False,
    )
    return fig, title or fmt.title_for("map", name_col, size_col, None), None


def _zoom(lat: pd.Series, lon: pd.Series) -> float:
    span = max(float(lat.max() - lat.min()), float(lon.max() - lon.min()), 0.01)
    return round(max(0.5, min(12.0, 8.5 - 1.44 * math.log(span))), 1)


def _groups(frame: pd.DataFrame, color: str | None) -> list[tuple[str | None, pd.DataFrame]]:
    if color is None:
        return [(None, frame)]
    return [(str(key), part) for key, part in frame.groupby(color, sort=True)]


BUILDERS = {"bar": _bar, "line": _line, "scatter": _scatter, "heatmap": _heatmap, "map": _map}
