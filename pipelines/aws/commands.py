"""`encore aws sync`: push the embedded state to its AWS counterparts, step by step; and
`encore aws etl deploy|run`: the Spark ETL as a scheduled Glue job (pipelines/aws/glue_etl.py).

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
etl_app = typer.Typer(
    help="The Spark ETL as a scheduled Glue job: deploy it, run it.", no_args_is_help=True
)
app.add_typer(etl_app, name="etl")
console = Console()


def _catalog(settings: Settings) -> SyncReport:
    from pipelines.aws.glue import sync_catalog

    return sync_catalog(settings)


def _grants(settings: Settings) -> SyncReport:
    from tools.query.lakeformation import sync_grants

    return sync_grants(settings)


def _warehouse(settings: Settings) -> SyncReport:
    from pipelines.aws.redshift import load_warehouse

    return load_warehouse(settings, lock_wait_s=settings.redshift_lock_wait_s)


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
        bool,
        typer.Option(
            "--warehouse", help="warehouse tables + Glue job output -> Redshift (COPY + merge)"
        ),
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


JOB_NAME = "encore-etl"


@etl_app.command("deploy")
def etl_deploy_command(
    role: Annotated[str, typer.Option(help="IAM role ARN the Glue job runs as")],
    name: Annotated[str, typer.Option(help="Glue job name")] = JOB_NAME,
    schedule: Annotated[
        str, typer.Option(help="Glue cron expression; 'none' for no trigger")
    ] = "cron(15 * * * ? *)",
    source: Annotated[str, typer.Option(help="raw source partition the job reads")] = "files",
) -> None:
    """Upload the ETL's code to the lake bucket, create or update the Glue job and its schedule."""
    from core.aws import client
    from pipelines.aws.glue_etl import deploy, etl_job

    settings = Settings()
    try:
        job = etl_job(settings, role=role, name=name, source=source,
                      schedule=None if schedule.lower() == "none" else schedule)  # fmt: skip
        s3 = client("s3", settings)
        report = deploy(job, glue=client("glue", settings), s3=s3)
        print_report(report)
        _publish_map(settings, s3)
    except EncoreError as exc:
        console.print(f"[red]failed[/red]   {escape(str(exc))}")
        raise typer.Exit(1) from exc


def _publish_map(settings: Settings, s3: object) -> None:
    """Publish the warehouse's entity_map for the job (skipped with a note without a warehouse)."""
    from core.warehouse import reading
    from pipelines.aws.glue_etl import publish_entity_map

    if not settings.warehouse_file.exists():
        console.print("  [dim]no local warehouse: no entity_map published (all rows unresolved)")
        return
    with reading(settings) as con:
        print_report(publish_entity_map(con, s3, str(settings.lake_bucket)))


def _record(settings: Settings, s3: object, run_id: str) -> None:
    """Record the finished run's manifest in the run ledger and the local catalog."""
    from core.warehouse import writing
    from pipelines.aws.glue_etl import read_manifest, record_run

    manifest = read_manifest(s3, str(settings.lake_bucket), run_id)
    if manifest is None:
        console.print(f"[yellow]run {escape(run_id)} wrote no manifest: nothing recorded[/yellow]")
        return
    with writing(settings) as con:
        files = record_run(con, manifest, str(settings.lake_bucket))
    datasets = sorted({d for f in manifest["files"] for d in f["datasets"]})
    console.print(
        f"recorded {files} file(s) in the run ledger (pipeline glue_etl); catalog: "
        + (", ".join(f"curated/{d}" for d in datasets) or "no datasets written")
    )


@etl_app.command("run")
def etl_run_command(
    dt: Annotated[str, typer.Option(help="raw partition day: YYYY-MM-DD, today, yesterday")] = (
        "today"
    ),
    name: Annotated[str, typer.Option(help="Glue job name")] = JOB_NAME,
    source: Annotated[str | None, typer.Option(help="raw source (default: the job's)")] = None,
    wait: Annotated[bool, typer.Option(help="poll the run until it ends")] = True,
    timeout: Annotated[float, typer.Option(help="seconds to wait before stopping it")] = 3600.0,
    poll: Annotated[float, typer.Option(help="seconds between polls")] = 15.0,
) -> None:
    """Start a run of the Glue ETL job for one raw partition and follow it.

    The warehouse's entity_map is published first; when the run ends, what it wrote (its
    manifest) is recorded in the run ledger and the local catalog.
    """
    from core.aws import client, require
    from pipelines.aws.glue_etl import start_run, wait_for_run

    settings = Settings()
    glue = client("glue", settings)
    arguments = {"--dt": dt, **({"--source": source} if source else {})}
    run_id = None
    try:
        require(settings, "lake_bucket")
        s3 = client("s3", settings)
        _publish_map(settings, s3)
        run_id = start_run(glue, name, arguments)
        console.print(f"started {escape(name)} run {escape(run_id)}")
        if wait:
            run = wait_for_run(glue, name, run_id, timeout_s=timeout, poll_s=poll)
            console.print(f"[green]succeeded[/green] in {run.get('ExecutionTime', '?')} s")
            _record(settings, s3, run_id)
    except EncoreError as exc:
        console.print(f"[red]failed[/red]   {escape(str(exc))}")
        if run_id is not None and wait and exc.detail.get("state") == "FAILED":
            _record(settings, s3, run_id)  # a failed run's files are in its manifest too
        raise typer.Exit(1) from exc
