"""`encore aws endpoint deploy|delete`: the forecaster's champion behind a SageMaker endpoint.

Mounted under `encore aws` by the root CLI (agent/cli.py); the work is in endpoint.py, imported
only when a command runs.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from core.errors import EncoreError
from core.settings import Settings
from pipelines.aws.commands import print_report

endpoint_app = typer.Typer(
    help="The ticket-sales forecaster on a SageMaker endpoint: deploy it, delete it.",
    no_args_is_help=True,
)
console = Console()


@endpoint_app.command("deploy")
def deploy_command(
    memory: Annotated[
        int, typer.Option(help="serverless memory in MB (1024-6144, steps of 1024)")
    ] = 2048,
    concurrency: Annotated[int, typer.Option(help="serverless max concurrent invocations")] = 5,
    instance_type: Annotated[
        str | None,
        typer.Option(help="e.g. ml.m5.large: real-time instances instead of serverless"),
    ] = None,
    instance_count: Annotated[int, typer.Option(help="instances, with --instance-type")] = 1,
    wait: Annotated[bool, typer.Option(help="poll the endpoint until it is InService")] = True,
    timeout: Annotated[float, typer.Option(help="seconds to wait at most")] = 1800.0,
    poll: Annotated[float, typer.Option(help="seconds between polls")] = 15.0,
) -> None:
    """Serve the sales forecaster's champion from a SageMaker endpoint (serverless by default).

    Publishes the champion as `encore aws sync --models` does, then creates the endpoint.
    A new champion or capacity moves the endpoint to a new config; otherwise nothing changes.
    Forecasts use it with ENCORE_PREDICTOR=sagemaker (the default on ENCORE_PROFILE=aws).
    """
    from models.serving.endpoint import Capacity, deploy_endpoint

    started = time.monotonic()

    def progress(line: str) -> None:
        console.print(f"  [dim]{time.monotonic() - started:5.0f} s[/dim] {escape(line)}")

    try:
        capacity = Capacity(memory, concurrency, instance_type, instance_count)
        report = deploy_endpoint(
            Settings(), capacity=capacity, wait=wait, timeout_s=timeout, poll_s=poll,
            progress=progress,
        )  # fmt: skip
    except EncoreError as exc:
        console.print(f"[red]failed[/red]   {escape(str(exc))}")
        raise typer.Exit(1) from exc
    print_report(report)


@endpoint_app.command("delete")
def delete_command() -> None:
    """Delete the forecast endpoint to stop paying for it (models and configs stay)."""
    from models.serving.endpoint import delete_endpoint

    try:
        report = delete_endpoint(Settings())
    except EncoreError as exc:
        console.print(f"[red]failed[/red]   {escape(str(exc))}")
        raise typer.Exit(1) from exc
    print_report(report)
