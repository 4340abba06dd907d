"""`encore query ...` and `encore bench semantic`: the query tools from the command line."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.console import Console
from rich.table import Table

from core.errors import EncoreError
from core.settings import Settings
from tools.cli_options import RoleOption, UserOption
from tools.context import ToolContext
from tools.results import QueryResult

if TYPE_CHECKING:
    from tools.query.router import EngineChoice

app = typer.Typer()
bench_app = typer.Typer()
console = Console()
err_console = Console(stderr=True)

_FILTER = re.compile(r"^\s*(\w+)\s*(not in|in|contains|!=|<=|>=|=|<|>)\s*(.+?)\s*$", re.IGNORECASE)


def parse_filter(text: str) -> dict[str, Any]:
    """`state=CA`, `tickets_sold>1000`, `venue_type in arena,stadium` as a filter."""
    match = _FILTER.match(text)
    if not match:
        raise typer.BadParameter(f"cannot read filter {text!r}; write e.g. state=CA or year>=2024")
    field, op, value = match[1], match[2].lower(), match[3]
    parsed: Any = [v.strip() for v in value.split(",")] if op in ("in", "not in") else value
    return {"field": field, "op": op, "value": parsed}


def _print(result: QueryResult, as_json: bool) -> None:
    if as_json:
        typer.echo(result.model_dump_json())
        return
    table = Table(*result.columns)
    for row in result.rows:
        table.add_row(*("" if v is None else f"{v:,}" if isinstance(v, int) else str(v)
                        for v in row))  # fmt: skip
    console.print(table)
    more = " (truncated)" if result.truncated else ""
    engine = getattr(result, "engine", "warehouse")
    reason = getattr(result, "reason", "")
    console.print(f"[dim]{result.row_count} rows{more} from the {engine}"
                  f"{f': {reason}' if reason else ''}\n{result.sql}[/dim]")  # fmt: skip


@app.command("query")
def query_command(
    sql: Annotated[str | None, typer.Argument(help="one SELECT statement (guarded)")] = None,
    measures: Annotated[
        list[str] | None, typer.Option("--measures", "-m", help="semantic measures")
    ] = None,
    dimensions: Annotated[
        list[str] | None, typer.Option("--dimensions", "-d", help="semantic dimensions")
    ] = None,
    filters: Annotated[
        list[str] | None, typer.Option("--filter", "-f", help="e.g. state=CA, year>=2024")
    ] = None,
    start: Annotated[str | None, typer.Option(help="first event date (ISO)")] = None,
    end: Annotated[str | None, typer.Option(help="last event date (ISO)")] = None,
    limit: Annotated[int, typer.Option(help="maximum rows")] = 100,
    role: RoleOption = "analyst",
    user: UserOption = "local",
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
    engine: Annotated[
        str, typer.Option(help="SQL only: auto (by the tables), warehouse or lake")
    ] = "auto",
) -> None:
    """Query the warehouse: guarded SQL, or measures by dimensions through the semantic layer.

    Measures and dimensions may be repeated or comma-separated:
    `encore query -m tickets_sold,gross_revenue -d genre -f state=CA`.
    """
    from tools.query.runner import run_sql
    from tools.query.semantic import semantic_query
    from tools.query.semantic_model import Filter, TimeRange

    ctx = ToolContext(Settings(), user=user, role=role)

    def split(values: list[str] | None) -> list[str]:
        return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]

    try:
        if sql and (measures or dimensions):
            raise typer.BadParameter("give either SQL or --measures/--dimensions, not both")
        if engine not in ("auto", "warehouse", "lake"):
            raise typer.BadParameter(f"--engine is auto, warehouse or lake; got {engine}")
        result: QueryResult
        if sql:
            result = run_sql(ctx, sql, max_rows=limit, engine=cast("EngineChoice", engine))
        elif measures:
            time_range = None
            if start or end:
                time_range = TimeRange(
                    start=date.fromisoformat(start) if start else None,
                    end=date.fromisoformat(end) if end else None,
                )
            result = semantic_query(
                ctx,
                measures=split(measures),
                dimensions=split(dimensions),
                filters=[Filter(**parse_filter(f)) for f in filters or []],
                time_range=time_range,
                limit=limit,
            )
        else:
            raise typer.BadParameter("give a SELECT statement or --measures")
    except EncoreError as exc:
        err_console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from exc
    _print(result, as_json)


@bench_app.command("semantic")
def bench_semantic_command(
    repeats: Annotated[int, typer.Option(help="runs of each query")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Semantic-query latency (p50/p95) against the same SQL on a plain DuckDB connection."""
    from tools.query.bench import bench_semantic

    with console.status("running semantic queries ..."):
        result = bench_semantic(Settings(), repeats=repeats)
    if as_json:
        typer.echo(json.dumps(result))
        return
    table = Table("query", "encore p50 ms", "plain DuckDB p50 ms", title="semantic queries")
    for row in result["per_query"]:
        table.add_row(row["query"], str(row["p50_ms"]), str(row["baseline_p50_ms"]))
    console.print(table)
    console.print(
        f"Encore: p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms over {result['runs']} "
        f"runs; plain DuckDB: p50 {result['baseline_p50_ms']} ms, p95 "
        f"{result['baseline_p95_ms']} ms; ratio {result['ratio_p50']}x"
    )
    console.print(
        f"plain DuckDB opened per query: p50 {result['fresh_connection_p50_ms']}"
        f" ms, ratio {result['ratio_p50_to_fresh_connection']}x; compile + guard alone: p50 "
        f"{result['compile_and_guard_p50_ms']} ms, p95 {result['compile_and_guard_p95_ms']} ms"
    )
