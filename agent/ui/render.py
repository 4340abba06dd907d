"""Turn agent results into what the page shows: dataframes, plotly figures, CSV, plain errors."""

from __future__ import annotations

import csv
import io
import json
import logging
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from core.errors import EncoreError
from pipelines.ingest import FileOutcome
from tools.results import Table

log = logging.getLogger(__name__)


def table_frame(table: Table) -> pd.DataFrame:
    """A pandas frame of a result table, columns in order."""
    return pd.DataFrame([list(row) for row in table.rows], columns=list(table.columns))


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
