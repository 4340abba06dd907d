"""`encore dashboard`: pipeline health and data quality as one offline HTML file (and, with
`--aws`, the CloudWatch dashboard of the same metrics); `encore dashboard analytics`: venue
ranking, sales predictions and artist trends as another."""

from __future__ import annotations

import time
import webbrowser
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from core.settings import Settings

app = typer.Typer()
dashboard_app = typer.Typer(
    name="dashboard",
    invoke_without_command=True,
    short_help="Pipeline health as an offline HTML page; `analytics`: venues, sales, artists.",
)
app.add_typer(dashboard_app)
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


@dashboard_app.callback()
def dashboard_command(
    context: typer.Context,
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
    alerts and model health. `encore dashboard analytics --help` for the analytics page."""
    if context.invoked_subcommand is not None:
        return
    from tools.dashboard import Filters, collect, summarize, write_dashboard

    settings = Settings()
    started = time.perf_counter()
    first, last = _day(since, "--since"), _day(until, "--until")
    filters = Filters.last(days, source, since=first, until=last)
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


@dashboard_app.command("analytics")
def analytics_command(
    out: Annotated[Path, typer.Option(help="the HTML file to write")] = Path("analytics.html"),
    date_from: Annotated[
        str | None, typer.Option("--from", help="first event day (YYYY-MM-DD)")
    ] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="last event day (YYYY-MM-DD)")] = None,
    city: Annotated[str | None, typer.Option(help="only venues in this city")] = None,
    state: Annotated[str | None, typer.Option(help="only venues in this state, e.g. CA")] = None,
    genre: Annotated[str | None, typer.Option(help="only artists of this genre")] = None,
    artist: Annotated[str | None, typer.Option(help="only this artist")] = None,
    role: Annotated[
        str, typer.Option(envvar="ENCORE_ROLE", help="governance role: admin, analyst, partner")
    ] = "analyst",
    open_page: Annotated[bool, typer.Option("--open", help="open the page in a browser")] = False,
) -> None:
    """Venue ranking, ticket-sales predictions (80% intervals, low-confidence flags) and artist
    trends as one self-contained HTML page (works offline), read as ROLE; clicking a listed
    venue or artist opens its concerts and sales over time."""
    from tools.context import ToolContext
    from tools.dashboard.analytics import write_analytics
    from tools.dashboard.analytics_data import AnalyticsFilters, collect_analytics

    settings = Settings()
    started = time.perf_counter()
    filters = AnalyticsFilters(
        _day(date_from, "--from"), _day(date_to, "--to"), city, state, genre, artist
    )
    ctx = ToolContext(settings, user="cli", role=role)
    with console.status("reading rankings, predictions and sales ...") as status:
        data = collect_analytics(ctx, filters, embed_details=True)
        status.update("drawing the page ...")
        path = write_analytics(data, out)
    if data.problem:
        console.print(f"[yellow]{data.problem}[/]")
    else:
        t = data.totals
        low = sum(p.low_confidence for p in data.predictions)
        console.print(
            f"{t.get('tickets_sold') or 0:,} tickets, {t.get('concerts') or 0:,} completed "
            f"concerts; {len(data.ranking.rows) if data.ranking else 0} ranked venues; "
            f"{len(data.predictions)} predictions ({low} low confidence) "
            f"[dim]({filters.describe()}; role {role}; {time.perf_counter() - started:.1f} s)[/]"
        )
        for section, note in data.notes.items():
            console.print(f"[yellow]{section}: {note}[/]")
    typer.echo(str(path))
    if open_page:
        webbrowser.open(path.as_uri())
