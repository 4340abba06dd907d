"""What the `encore` data commands share: the command groups, the console, progress bars."""

from __future__ import annotations

from typing import Literal

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

app = typer.Typer()
bench_app = typer.Typer()
pipeline_app = typer.Typer(
    help="Pipeline runs: run every source now or on a schedule, status, lineage.",
    no_args_is_help=True,
)
app.add_typer(pipeline_app, name="pipeline")
stream_app = typer.Typer(help="The stream: produce records, consume them into the warehouse.",
                         no_args_is_help=True)  # fmt: skip
app.add_typer(stream_app, name="stream")
quality_app = typer.Typer(help="Data quality checks and reports.", no_args_is_help=True)
app.add_typer(quality_app, name="quality")
console = Console()


def progress_bar() -> Progress:
    """The progress display every long-running command uses."""
    return Progress(
        TextColumn("[bold]{task.description:<14}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def print_counts(counts: dict[str, int], title: str) -> None:
    """Rows per table, as a table."""
    table = Table("table", "rows", title=title)
    for name, rows in counts.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)


EntityName = Literal[
    "artists", "venues", "concerts", "ticket_sales", "fans", "concert_results", "concert_listings"
]
