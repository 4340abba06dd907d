"""Turn agent results into what the page shows: dataframes, plotly figures, CSV, plain errors."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from typing import Any, Final

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from agent.formatting import is_change, meanings
from core.errors import EncoreError
from pipelines.ingest import FileOutcome
from tools.results import Table

from . import cells

log = logging.getLogger(__name__)

_TABLE_ROW: Final = re.compile(r"^\s*\|")
_MORE_ROWS: Final = re.compile(r"^\s*…and [\d,]+ more rows\.\s*$")  # the composer's cut note


def table_frame(table: Table) -> pd.DataFrame:
    """A pandas frame of a result table for the page's grid, columns in order.

    Numbers stay numbers: Chainlit's grid shows a cell's value as it is and its header click
    sorts by that value, so text such as "$75.7K" or "9%" would sort as text ("9%" above "81%").
    Each number is put in the unit the answers' text and the terminal read it in, named in the
    header: a sell-through of 0.913 is 91.3 under "sell_through (%)", a gross of 75730.05 is
    75.7 under "gross ($K)". The CSV download keeps the raw values."""
    grid = [
        _grid_column(name, meaning, [row[i] if i < len(row) else None for row in table.rows])
        for i, (name, meaning) in enumerate(
            zip(table.columns, meanings(table.columns), strict=True)
        )
    ]
    frame = pd.DataFrame({i: values for i, (_, values) in enumerate(grid)})
    frame.columns = pd.Index([header for header, _ in grid])  # names may repeat, as in SQL
    return frame


# a money column read in millions or thousands (cells' "$8.0M", "$75.7K"): its scale and label
_MONEY_UNITS: Final = {"M": (1e6, "$M"), "K": (1e3, "$K")}


def _grid_column(name: str, meaning: str, values: list[Any]) -> tuple[str, list[Any]]:
    """A column's grid header and cells: numbers in the unit `cells` reads the column in (as
    what it means: a cohort table's month columns are shares)."""
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if not numbers or len(numbers) < sum(v is not None for v in values):
        return name, values  # text, or a mix the grid can only show as it is
    # how the terminal reads the column's largest cell tells its kind and unit
    reading = cells.column_formatter(meaning, values)(max(numbers, key=abs))
    if reading.endswith("%"):  # a change (+313.6%) is already in percent, a fraction is not
        times = 1 if is_change(meaning) else 100
        return f"{name} (%)", [None if v is None else round(v * times, 1) for v in values]
    if "$" in reading:
        scale, unit = _MONEY_UNITS.get(reading[-1], (1.0, "$"))
        # as many decimals as the reading ($0.09M beside $2.15M), at least one in $K or $M
        digits = max(len(reading.rstrip("MK").partition(".")[2]), 1 if scale > 1 else 0)
        return f"{name} ({unit})", [
            None if v is None else _round(v / scale, digits) for v in values
        ]
    return name, [round(v, 2) if isinstance(v, float) else v for v in values]


def _round(value: float, digits: int) -> float:
    """`value` to `digits` decimals, or two significant figures where that would read as
    nothing: a gross of $2,100 beside millions is 0.0021 in $M, not 0 (the grid sorts by it)."""
    rounded = round(value, digits)
    return rounded if rounded or not value else float(f"{value:.2g}")


def table_csv(table: Table) -> bytes:
    """The table as UTF-8 CSV with a header row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(table.columns)
    writer.writerows(table.rows)
    return buffer.getvalue().encode("utf-8")


def figure(chart: dict[str, Any]) -> go.Figure:
    """A plotly figure from the chart spec the agent returns (a figure dict or a Chart dump)."""
    spec = chart.get("plotly", chart)
    return pio.from_json(json.dumps(spec))


def streamable(text: str) -> str:
    """The answer streamed so far as the page shows it while streaming: markdown table rows held
    back (the table comes as a grid, or whole at the end), so no half table flashes by.

    Only grows as `text` grows: a line is shown or held once, when it starts.
    """
    *complete, last = text.split("\n")
    shown = [line for line in complete if not _TABLE_ROW.match(line) and not _MORE_ROWS.match(line)]
    start = last.lstrip()
    if start and not start.startswith(("|", "…")):  # a row or a cut note may be starting
        shown.append(last)
    return "\n".join(shown)


def without_tables(text: str, tables: list[Table]) -> str:
    """The answer with the markdown tables the page shows as grids taken out (with their "…and N
    more rows" note); a markdown table whose header matches no grid stays."""
    grids = {_cells(" | ".join(table.columns)) for table in tables}
    lines = text.split("\n")
    kept: list[str] = []
    i = 0
    while i < len(lines):
        if not _TABLE_ROW.match(lines[i]):
            kept.append(lines[i])
            i += 1
            continue
        end = i
        while end < len(lines) and _TABLE_ROW.match(lines[end]):
            end += 1
        if _cells(lines[i]) in grids:
            after = end
            while after < len(lines) and not lines[after].strip():
                after += 1
            if after < len(lines) and _MORE_ROWS.match(lines[after]):
                end = after + 1
        else:
            kept.extend(lines[i:end])
        i = end
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


def _cells(header: str) -> tuple[str, ...]:
    """A table header's column names, compared loosely (case, `_` or space, outer pipes)."""
    names = header.strip().strip("|").split("|")
    return tuple(name.strip().lower().replace("_", " ") for name in names)


_TIME_NAMES: Final = ("year", "quarter", "month", "week", "date", "day")


def chart_choice(table: Table) -> dict[str, Any]:
    """make_chart arguments for a table: the first label column (else the first column) against
    the first other numeric one; a line over time, bars otherwise."""
    first = table.rows[0] if table.rows else []
    numeric = [
        c for c, v in zip(table.columns, first, strict=False)
        if isinstance(v, int | float) and not isinstance(v, bool)
    ]  # fmt: skip
    labels = [c for c in table.columns if c not in numeric]
    x = labels[0] if labels else table.columns[0]
    y = next((c for c in numeric if c != x), table.columns[-1])
    over_time = any(name in x.lower() for name in _TIME_NAMES)
    return {"kind": "line" if over_time else "bar", "x": x, "y": y}


def sql_markdown(statements: list[str]) -> str:
    """SQL statements as fenced markdown blocks."""
    if not statements:
        return "This answer did not run any SQL."
    return "\n\n".join(f"```sql\n{sql.strip()}\n```" for sql in statements)


def plain_error(exc: BaseException) -> str:
    """Plain words for a failure: our own messages as they are, others without a trace."""
    if isinstance(exc, EncoreError):
        return f"I couldn't do that: {exc}"
    if isinstance(exc, TimeoutError):
        return "That took too long and was stopped. Try a narrower question."
    log.exception("unexpected error in the chat UI", exc_info=exc)
    return (
        "Something went wrong on our side while answering "
        f"({type(exc).__name__}). Nothing was changed; please try again or rephrase."
    )


def short(value: Any, limit: int = 4000) -> str:
    """A tool input or output as readable text, cut to `limit` characters."""
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    text = value if isinstance(value, str) else json.dumps(value, indent=2, default=str)
    return text if len(text) <= limit else text[:limit] + "\n… (cut)"


def ingest_summary(outcomes: list[FileOutcome]) -> str:
    """A markdown quality summary of an ingestion: per file, records in, loaded, quarantined."""
    lines = [
        "| file | entity | status | records | loaded | quarantined |",
        "|---|---|---|---|---|---|",
    ]
    samples: list[str] = []
    for outcome in outcomes:
        run = outcome.run
        lines.append(
            f"| {outcome.path.name} | {outcome.entity or '?'} | {outcome.status} | "
            f"{run.records_in if run else 0:,} | {run.accepted if run else 0:,} | "
            f"{run.quarantined if run else 0:,} |"
        )
        if outcome.message:
            samples.append(f"- {outcome.path.name}: {outcome.message}")
        for line, reasons in outcome.quarantine_samples[:5]:
            where = f"line {line}: " if line else ""
            samples.append(f"- {where}{'; '.join(reasons)}")
    text = "\n".join(lines)
    if samples:
        text += "\n\n**Notes and quarantined rows**\n" + "\n".join(samples)
    return text
