"""`encore pipeline schedule`: the pipeline on a timer, models refreshed after new data.

What to refresh comes from above: pipelines may not import models (DESIGN.md §2), so the root CLI
(agent/cli.py), which mounts both, registers the model trainers with `add_refreshers`. Without
it (e.g. `python -m` on this package alone) the schedule still loads data and says that nothing
is registered to refresh.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from core.errors import ConfigError
from core.settings import Settings
from pipelines.commands.common import console, pipeline_app
from pipelines.schedule import (
    DEFAULT_EVERY,
    FRESHNESS_BUDGET_S,
    PipelineScheduler,
    Refresher,
    Tick,
    build_trigger,
    exclusive,
    parse_every,
)

_refreshers: list[Refresher] = []


def add_refreshers(*refreshers: Refresher) -> None:
    """Register what to refresh after new data, in order (the root CLI passes the models)."""
    known = {r.name for r in _refreshers}
    _refreshers.extend(r for r in refreshers if r.name not in known)


def registered_refreshers() -> tuple[Refresher, ...]:
    """The refreshers registered so far."""
    return tuple(_refreshers)


@pipeline_app.command("schedule")
def pipeline_schedule_command(
    every: Annotated[
        str | None, typer.Option(help=f"run every 30s, 15m, 2h ... (default {DEFAULT_EVERY})")
    ] = None,
    cron: Annotated[
        str | None, typer.Option(help="run on a crontab line instead, e.g. '*/15 * * * *'")
    ] = None,
    landing: Annotated[
        Path | None, typer.Option(help="folder of files to ingest (default: <data dir>/landing)")
    ] = None,
    stream: Annotated[str, typer.Option(help="stream to consume")] = "events",
    apis: Annotated[bool, typer.Option(help="refresh from the APIs that have keys set")] = True,
    refresh: Annotated[
        bool, typer.Option(help="retrain the models whose data changed after each run")
    ] = True,
    max_runs: Annotated[
        int | None, typer.Option(min=1, help="stop after this many runs (demos, tests)")
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="one run now, then exit")] = False,
) -> None:
    """Run the pipeline on a schedule and refresh the models after new data (requirement 3.3).

    Each run ingests the landing folder, the stream and the APIs, then retrains the models whose
    data changed (the recommender first). Runs never overlap; a failed run is recorded and
    alerted and the schedule goes on. With --every the first run starts at once, with --cron at
    the next matching minute. Ctrl-C or SIGTERM stops after the current run. Exits 1 when a run
    failed.
    """
    try:
        trigger = build_trigger(every, cron)
    except ConfigError as exc:
        raise typer.BadParameter(str(exc), param_hint="--cron" if cron else "--every") from exc
    # APScheduler warns of every firing dropped while a run is going; the summary counts them
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    settings = Settings()
    refreshers = registered_refreshers() if refresh else ()
    scheduler = PipelineScheduler(settings, landing=landing, stream=stream, use_apis=apis,
                                  refreshers=refreshers, on_tick=_show)  # fmt: skip
    names = ", ".join(r.name for r in refreshers) or "nothing"
    if once:
        with exclusive(settings), console.status("running the pipeline ..."):
            ticks = [scheduler.tick()]
    else:
        console.print(f"Scheduling the pipeline ({_describe(every, cron)}); after new data it "
                      f"refreshes {names}. Ctrl-C stops after the current run.")  # fmt: skip
        if every and parse_every(every).total_seconds() >= FRESHNESS_BUDGET_S:
            console.print("[yellow]runs this far apart leave new data waiting longer than the "
                          "30 minutes of requirement 3.3[/]")  # fmt: skip
        stop = threading.Event()
        with _stopping_on_signals(stop):
            ticks = scheduler.serve(trigger, max_runs=max_runs, stop=stop, run_now=cron is None)
    _summary(ticks, scheduler.overlaps)
    if any(t.status == "failed" for t in ticks):
        raise typer.Exit(1)


def _describe(every: str | None, cron: str | None) -> str:
    return f"cron '{cron}'" if cron else f"every {every or DEFAULT_EVERY}"


class _stopping_on_signals:  # noqa: N801 - used as a context manager, named like one
    """SIGINT and SIGTERM set `stop`: the current run finishes first (a load is atomic, but a
    refresh cut short would go unrecorded), then the schedule ends."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self.previous[sig] = signal.signal(sig, self._handle)

    def __exit__(self, *_: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)

    def _handle(self, _signum: int, _frame: FrameType | None) -> None:
        if self.stop.is_set():
            console.print("[yellow]still finishing the current run; it stops when that ends[/]")
        else:
            console.print("[yellow]stopping after the current run ...[/]")
        self.stop.set()


def _show(tick: Tick) -> None:
    """One line per run, one more per refresh, as they finish."""
    colour = {"succeeded": "green", "skipped": "yellow"}.get(tick.status, "red")
    steps = ", ".join(f"{s.name} {s.status}" for s in tick.steps)
    _, accepted, quarantined = tick.records
    local = tick.started_at.astimezone()  # a live line: the clock of whoever watches it
    console.print(
        f"[dim]{local:%H:%M:%S}[/] run {tick.number} [{colour}]{tick.status}[/] in "
        f"{tick.seconds:.1f} s: {accepted:,} accepted, {quarantined:,} quarantined"
        + (f" ({steps})" if steps else "")
    )
    if tick.error:
        console.print(f"  [red]{escape(tick.error)}[/]")
    if tick.quality_failures:
        console.print(f"  [yellow]data quality: {tick.quality_failures} check(s) over their limit "
                      "(`encore quality report`)[/]")  # fmt: skip
    for r in tick.refreshes:
        if r.status == "skipped":
            console.print(f"  [yellow]not refreshed[/] {r.name}: {escape(r.detail)}")
            continue
        if r.status == "done" and r.served_changed is False:
            # trained, but the champion gate kept the served model: nothing new is served
            console.print(f"  [yellow]not refreshed[/] {r.name} in {r.seconds:.1f} s: "
                          f"{escape(r.detail)}")  # fmt: skip
            continue
        verdict = "[green]refreshed[/]" if r.status == "done" else "[red]refresh failed[/]"
        console.print(f"  {verdict} {r.name} in {r.seconds:.1f} s, {r.lag_s / 60:.1f} min after "
                      f"new data ({escape(r.detail)})")  # fmt: skip


def _summary(ticks: list[Tick], overlaps: int) -> None:
    served = [r for t in ticks for r in t.refreshes if r.status == "done"]
    refreshes = [r for r in served if r.served_changed is not False]
    failed = sum(t.status == "failed" for t in ticks)
    line = f"{len(ticks)} run(s), {failed} failed, {len(refreshes)} model refresh(es)"
    last = {r.name: r.status for t in ticks for r in t.refreshes if r.status != "skipped"}
    unrefreshed = sorted(name for name, status in last.items() if status == "failed")
    if overlaps:
        line += f", {overlaps} firing(s) skipped while a run was still going"
    if unrefreshed:  # its new data waits for a refresh that has not happened: not within target
        line += (f"; [red]refresh failed[/] for {', '.join(unrefreshed)}: its new data is not "
                 "refreshed (requirement 3.3 not met)")  # fmt: skip
    elif refreshes:
        worst = max(r.lag_s for r in refreshes)
        verdict = "[green]within[/]" if worst <= FRESHNESS_BUDGET_S else "[red]over[/]"
        line += f"; slowest new data to refreshed model {worst / 60:.1f} min ({verdict} 30 min)"
    console.print(line)


def print_refreshes(rows: list[dict[str, Any]]) -> None:
    """Model refreshes (`recent_refreshes`) as a table, for `encore pipeline status`."""
    if not rows:
        console.print("no model refreshes yet; `encore pipeline schedule` runs them after new data")
        return
    table = Table("model", "started (UTC)", "status", "seconds", "after new data", "error",
                  title="Model refreshes (requirement 3.3: within 30 min of new data)")  # fmt: skip
    for r in rows:
        colour = {"succeeded": "green", "running": "cyan"}.get(r["status"], "red")
        lag = r["lag_s"]
        lag_text = "" if lag is None else f"{lag / 60:.1f} min"
        if lag is not None and lag > FRESHNESS_BUDGET_S:
            lag_text = f"[red]{lag_text}[/]"
        seconds = r["seconds"]
        table.add_row(r["model"], f"{r['started_at']:%Y-%m-%d %H:%M:%S}",
                      f"[{colour}]{r['status']}[/]",
                      "" if seconds is None else f"{seconds:.1f}", lag_text,
                      escape((r["error"] or "")[:60]))  # fmt: skip
    console.print(table)
