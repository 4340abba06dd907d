"""`encore bench load` (mounted on the bench group by agent/cli.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from agent.loadtest.users import Recorder

bench_app = typer.Typer(no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)


def _table(figures: dict[str, Any]) -> Table:
    table = Table(
        title=f"{figures['users']} users for {figures['duration_s']} s "
        f"({figures['chat_users']} chatting, {figures['api_clients']} on the API)",
        header_style="bold",
    )
    for column in ("endpoint", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "p95 ×1 user"):
        table.add_column(column, justify="left" if column == "endpoint" else "right")
    table.add_column("errors")
    for endpoint, f in figures["endpoints"].items():
        ratio = f"{f['p95_vs_baseline']:.1f}×" if f["p95_vs_baseline"] else "-"
        errors = ", ".join(f"{kind}: {n}" for kind, n in f["errors"].items()) or "none"
        table.add_row(
            endpoint, str(f["requests"]), f"{f['req_per_s']:.1f}", f"{f['p50_ms']:.0f}",
            f"{f['p95_ms']:.0f}", f"{f['p99_ms']:.0f}", ratio,
            f"[red]{errors}[/red]" if f["errors"] else errors,
        )  # fmt: skip
    servers = ", ".join(
        f"{kind} {s['peak_rss_mb']} MB in {s['peak_processes']} process(es)"
        for kind, s in figures["servers"].items()
    )
    table.caption = (
        f"peak RSS: {servers}; {figures['agent_users']} agent users brought up in "
        f"{figures['agent_users_start_s']} s; p95 ×1 user: against one user alone, same run"
    )
    return table


@bench_app.command("load")
def bench_load_command(
    users: Annotated[int, typer.Option(help="concurrent virtual users")] = 20,
    duration: Annotated[float, typer.Option(help="seconds of load")] = 30.0,
    baseline: Annotated[float, typer.Option(help="seconds of the one-user baseline")] = 10.0,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="data dir of a built demo (default: build a small one in a temp dir)"),
    ] = None,
    chat_share: Annotated[float, typer.Option(help="share of users chatting with the agent")] = 0.5,
    agent_users: Annotated[
        int, typer.Option(help="distinct users the chat sessions belong to (one role: one server)")
    ] = 5,
    think: Annotated[float, typer.Option(help="seconds a user waits between requests")] = 0.0,
    api_rate_limits: Annotated[
        bool, typer.Option(help="keep the API's per-user rate limit (default: lifted)")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
) -> None:
    """Many users at once on the agent runtime and REST API, against one user alone."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from agent.loadtest.run import bench_load
    from core.errors import EncoreError

    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
        TextColumn("{task.fields[counts]}"), console=err_console, transient=True,
    ) as bar:  # fmt: skip
        tasks: dict[str, Any] = {}
        if data_dir is None:
            err_console.print("building a small demo warehouse in a temporary folder ...")

        def progress(phase: str, elapsed: float, recorder: Recorder) -> None:
            total = duration if phase.startswith("load") else baseline
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total, counts="")
            failed = sum(1 for s in recorder.samples if s.error)
            counts = f"{len(recorder.samples)} requests, {failed} failed"
            bar.update(tasks[phase], completed=min(elapsed, total), counts=counts)

        try:
            figures = bench_load(
                users=users, duration_s=duration, baseline_s=baseline, data_dir=data_dir,
                chat_share=chat_share, agent_users=agent_users, think_s=think,
                api_rate_limits=api_rate_limits, progress=progress,
            )  # fmt: skip
        except EncoreError as exc:
            err_console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from exc
    if as_json:
        typer.echo(json.dumps(figures, indent=2))
    else:
        console.print(_table(figures))
