"""`encore dashboard`: pipeline health and data quality as one offline HTML file (and, with
`--aws`, the CloudWatch dashboard of the same metrics)."""

from __future__ import annotations

import time
import webbrowser
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from core.settings import Settings

app = typer.Typer()
console = Console()


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(
            f"write a date as YYYY-MM-DD; got {text!r}", param_hint=option
        ) from exc


@app.command("dashboard")
def dashboard_command(
    out: Annotated[Path, typer.Option(help="the HTML file to write")] = Path("dashboard.html"),
    days: Annotated[int, typer.Option(min=1, help="cover the runs of the last N days")] = 30,
    source: Annotated[str | None, typer.Option(help="only runs of this source")] = None,
    since: Annotated[
        str | None, typer.Option(help="first day (YYYY-MM-DD), instead of --days")
    ] = None,
    until: Annotated[str | None, typer.Option(help="last day (YYYY-MM-DD), default today")] = None,
    drift: Annotated[bool, typer.Option(help="measure the forecaster's drift (seconds)")] = True,
    open_page: Annotated[bool, typer.Option("--open", help="open the page in a browser")] = False,
    aws: Annotated[
        bool, typer.Option("--aws", help="also publish the CloudWatch dashboard of the metrics")
    ] = False,
    name: Annotated[str, typer.Option(help="CloudWatch dashboard name (with --aws)")] = (
        "Encore-Pipelines"
    ),
) -> None:
    """Pipeline health and data quality as one self-contained HTML page (works offline): runs
    by status, records and quarantine per source, durations, quality checks, freshness, open
    alerts and model health."""
    from tools.dashboard import Filters, collect, summarize, write_dashboard

    settings = Settings()
    started = time.perf_counter()
    first, last = _day(since, "--since"), _day(until, "--until")
    filters = Filters.last(days, source, since=first, until=last, now=datetime.now())
    with console.status("reading the run ledger, alerts, quality checks and models ...") as status:
        data = collect(settings, filters, drift="measure" if drift else "off")
        status.update("drawing the dashboard ...")
        path = write_dashboard(data, out)
    health = summarize(data)
    console.print(
        f"{health.runs:,} runs ({health.failed_runs} failed), {health.records_in:,} records in, "
        f"{health.quarantined:,} quarantined, {len(health.quality_failing)} of "
        f"{health.quality_checks} quality checks failing, {len(health.open_alerts)} open alerts "
        f"[dim]({filters.describe()}; {time.perf_counter() - started:.1f} s)[/]"
    )
    tone = "green" if health.message.startswith("Healthy") else "yellow"
    console.print(f"[{tone}]{health.message}[/]")
    if aws:
        _publish(settings, name)
    typer.echo(str(path))
    if open_page:
        webbrowser.open(path.as_uri())


def _publish(settings: Settings, name: str) -> None:
    from core.aws import client
    from pipelines.monitoring.cloudwatch_dashboard import publish_dashboard

    with console.status(f"publishing CloudWatch dashboard {name} ..."):
        result = publish_dashboard(client("cloudwatch", settings), name)
    console.print(
        f"CloudWatch dashboard [bold]{result.name}[/] published with {result.widgets} widgets "
        f"and {len(result.alarms)} alarms: {result.console_url}"
    )
    for message in result.messages:
        console.print(f"[yellow]CloudWatch: {message}[/]")
