"""`encore aws stack template|deploy|outputs`: Encore's AWS resources as one CloudFormation stack.

Mounted under `encore aws` by the root CLI (agent/cli.py); troposphere and boto3 load only when a
command runs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from core.errors import ConfigError, EncoreError
from core.settings import Settings

if TYPE_CHECKING:
    from troposphere import Template

stack_app = typer.Typer(
    help="Encore's AWS resources as one CloudFormation stack: show it, deploy it, read it.",
    no_args_is_help=True,
)
console = Console()

_STREAM = typer.Option(help="name of the Kinesis stream (encore stream's --stream)")
_NAME = typer.Option("--name", help="CloudFormation stack name")


def _template(stream: str) -> Template:
    try:
        from agent.stack.template import StackSpec, build_template
    except ImportError as exc:  # troposphere comes with the aws extra
        raise ConfigError("the stack needs troposphere: pip install 'encore[aws]'") from exc
    from tools.query.policy import load_policy

    roles = load_policy().roles
    return build_template(StackSpec.from_settings(Settings(), roles, stream=stream))


@stack_app.command("template")
def template_command(
    out: Annotated[Path | None, typer.Option(help="write it here instead of printing it")] = None,
    json_format: Annotated[bool, typer.Option("--json", help="JSON instead of YAML")] = False,
    stream: Annotated[str, _STREAM] = "events",
) -> None:
    """Print the stack's CloudFormation template (lake bucket from ENCORE_LAKE_BUCKET)."""
    try:
        template = _template(stream)
    except EncoreError as exc:
        console.print(f"[red]failed[/red]   {escape(str(exc))}")
        raise typer.Exit(1) from exc
    body = template.to_json() if json_format else template.to_yaml()
    if out is None:
        typer.echo(body)
        return
    out.write_text(body)
    console.print(f"wrote {out} ({len(template.resources)} resources)")


@stack_app.command("deploy")
def deploy_command(
    name: Annotated[str, _NAME] = "encore",
    stream: Annotated[str, _STREAM] = "events",
    timeout: Annotated[float, typer.Option(help="seconds to wait at most")] = 1800.0,
    poll: Annotated[float, typer.Option(help="seconds between polls")] = 5.0,
) -> None:
    """Create the stack or update it to the current template; nothing changes if it is current.

    Prints each resource event as CloudFormation reports it, then the ENCORE_ settings that
    point the aws profile at what it made (put them in .env).
    """
    from agent.stack.deploy import deploy_stack

    started = time.monotonic()

    def progress(line: str) -> None:
        console.print(f"  [dim]{time.monotonic() - started:5.0f} s[/dim] {escape(line)}")

    try:
        body = _template(stream).to_json()
        with console.status(f"deploying stack {name}"):
            done = deploy_stack(
                Settings(), body, name=name, timeout_s=timeout, poll_s=poll, on_event=progress
            )
    except EncoreError as exc:
        console.print(f"[red]failed[/red]   {escape(str(exc))}")
        raise typer.Exit(1) from exc
    for change in done.changes:
        console.print(f"  {escape(change)}")
    console.print(f"[bold]stack {done.stack}: {done.action}[/bold]")
    _print_settings(done.outputs)


@stack_app.command("outputs")
def outputs_command(
    name: Annotated[str, _NAME] = "encore",
    env: Annotated[bool, typer.Option("--env", help="only the ENCORE_ lines, for .env")] = False,
) -> None:
    """Show the stack's outputs and the ENCORE_ settings they fill."""
    from agent.stack.deploy import stack_outputs

    try:
        outputs = stack_outputs(Settings(), name)
    except EncoreError as exc:
        console.print(f"[red]failed[/red]   {escape(str(exc))}")
        raise typer.Exit(1) from exc
    if not env:
        for key, value in sorted(outputs.items()):
            console.print(f"  {key:<28} {escape(value)}")
    _print_settings(outputs, bare=env)


def _print_settings(outputs: dict[str, str], *, bare: bool = False) -> None:
    from agent.stack.deploy import settings_from_outputs

    if not bare:
        console.print("settings for .env:")
    for key, value in settings_from_outputs(outputs).items():
        typer.echo(f"{key}={value}")
