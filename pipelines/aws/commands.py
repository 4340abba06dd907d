"""`encore aws sync`: push the embedded state to its AWS counterparts, step by step.

The steps live with what they publish; they are imported only when they run, so this module
stays light (and the pipelines package does not load tools or models on import).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from core.aws import SyncReport
from core.errors import EncoreError
from core.settings import Settings

app = typer.Typer(
    help="AWS adapters: Glue, Lake Formation, Redshift, SageMaker.", no_args_is_help=True
)
console = Console()


def _catalog(settings: Settings) -> SyncReport:
    from pipelines.aws.glue import sync_catalog

    return sync_catalog(settings)


def _grants(settings: Settings) -> SyncReport:
    from tools.query.lakeformation import sync_grants

    return sync_grants(settings)


def _warehouse(settings: Settings) -> SyncReport:
    from pipelines.aws.redshift import load_warehouse

    return load_warehouse(settings)


def _models(settings: Settings) -> SyncReport:
    from models.serving.sagemaker import publish_models

    return publish_models(settings)


STEPS: dict[str, Callable[[Settings], SyncReport]] = {
    "catalog": _catalog,
    "grants": _grants,
    "warehouse": _warehouse,
    "models": _models,
}
"""In the order they run: grants need the Glue tables the catalog step registers."""


@app.callback()
def aws_group() -> None:
    """Publish Encore's embedded state to AWS (Glue, Lake Formation, Redshift, SageMaker)."""


def print_report(report: SyncReport) -> None:
    """Every object the step touched, by outcome, then its one-line summary."""
    for label, items, style in (
        ("created", report.created, "green"),
        ("updated", report.updated, "yellow"),
        ("deleted", report.deleted, "red"),
        ("skipped", report.skipped, "dim"),
    ):
        for item in items:
            console.print(f"  [{style}]{label:<8}[/{style}] {escape(item)}")
    console.print(f"[bold]{escape(report.summary())}[/bold]")


@app.command("sync")
def sync_command(
    catalog: Annotated[
        bool, typer.Option("--catalog", help="curated lake datasets -> Glue Data Catalog")
    ] = False,
    grants: Annotated[
        bool, typer.Option("--grants", help="query policy -> Lake Formation grants")
    ] = False,
    warehouse: Annotated[
        bool, typer.Option("--warehouse", help="curated Parquet -> Redshift (COPY + merge)")
    ] = False,
    models: Annotated[
        bool, typer.Option("--models", help="registry champions -> SageMaker model packages")
    ] = False,
) -> None:
    """Sync the local catalog, policy, warehouse and models to AWS (every step when none is named).

    Each step creates what is missing, updates what differs and skips what is up to date; a step
    that fails (e.g. a missing ENCORE_ setting) is reported and the next one still runs.
    """
    chosen = {"catalog": catalog, "grants": grants, "warehouse": warehouse, "models": models}
    names = [name for name, on in chosen.items() if on] or list(STEPS)
    settings = Settings()
    failed = []
    for name in names:
        console.print(f"[bold]{name}[/bold]")
        try:
            report = STEPS[name](settings)
        except EncoreError as exc:
            console.print(f"  [red]failed[/red]   {escape(str(exc))}")
            failed.append(name)
            continue
        print_report(report)
    if failed:
        console.print(f"[red]failed steps: {', '.join(failed)}[/red]")
        raise typer.Exit(1)
