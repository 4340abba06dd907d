"""`encore analyze ...` and `encore chart ...`: the sandbox and charts from the command line."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Annotated

import typer

from core.errors import EncoreError
from core.settings import Settings
from tools.cli_options import RoleOption, UserOption
from tools.context import ToolContext
from tools.results import Table

app = typer.Typer()
# tools.charts.build.KINDS, spelled out: importing it loads plotly and pandas, which `encore
# --help` should not wait for (tests/test_cli.py checks the two agree)
CHART_KINDS = "bar | line | scatter | heatmap | map"


@app.command("analyze")
def analyze_command(
    code: Annotated[str | None, typer.Argument(help="Python code, or @file.py")] = None,
    sql: Annotated[str | None, typer.Option("--sql", help="the extract, seen as df")] = None,
    template: Annotated[str | None, typer.Option("--template", "-t")] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="name=value (JSON values work)")
    ] = None,
    list_templates: Annotated[bool, typer.Option("--list", help="list the templates")] = False,
    role: RoleOption = "analyst",
    user: UserOption = "local",
) -> None:
    """Run an analysis in the local sandbox and print its result as JSON (a warning on stderr
    when the role's row cap cut the extract: `truncated`, `rows_read` and `note` in the JSON)."""
    from tools.interpreter.service import list_analysis_templates, run_analysis

    ctx = ToolContext(Settings(), user=user, role=role)
    if list_templates:
        typer.echo(json.dumps([t.model_dump() for t in list_analysis_templates(ctx)], indent=2))
        return
    if code and code.startswith("@"):
        code = Path(code[1:]).read_text(encoding="utf-8")
    params = {}
    for item in param or []:
        name, _, value = item.partition("=")
        try:
            params[name] = json.loads(value)
        except ValueError:
            params[name] = value
    try:
        result = run_analysis(ctx, code=code or "", sql=sql, template=template, params=params)
    except EncoreError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(result.model_dump_json(indent=2))
    if result.truncated:
        typer.echo(f"warning: {result.note}", err=True)
    if result.error:
        raise typer.Exit(1)


@app.command("chart")
def chart_command(
    kind: Annotated[str, typer.Argument(help=CHART_KINDS)],
    sql: Annotated[str, typer.Argument(help="the query whose result is drawn (guarded)")],
    x: Annotated[str | None, typer.Option("--x")] = None,
    y: Annotated[str | None, typer.Option("--y")] = None,
    color: Annotated[str | None, typer.Option("--color")] = None,
    title: Annotated[str | None, typer.Option("--title")] = None,
    png: Annotated[Path | None, typer.Option("--png", help="also write a PNG here")] = None,
    role: RoleOption = "analyst",
    user: UserOption = "local",
) -> None:
    """Draw a chart of a query result; prints the plotly JSON."""
    from tools.charts import make_chart
    from tools.query.runner import run_sql

    ctx = ToolContext(Settings(), user=user, role=role)
    try:
        result = run_sql(ctx, sql)
        chart = make_chart(
            ctx,
            kind=kind,  # type: ignore[arg-type]  # make_chart checks the kind
            table=Table(columns=result.columns, rows=result.rows),
            x=x,
            y=y,
            color=color,
            title=title,
            png=png is not None,
        )
    except EncoreError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if png is not None and chart.png_base64:
        png.write_bytes(base64.b64decode(chart.png_base64))
    typer.echo(json.dumps(chart.plotly))
