"""The `encore` command: one root that gathers each package's commands."""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler

from core.errors import EncoreError
from core.settings import Settings
from evals import cli as evals_cli
from models import commands as models_cli
from pipelines import commands as pipelines_cli
from pipelines.generate import ScaleName
from pipelines.sinks.warehouse import last_build

app = typer.Typer(
    name="encore",
    help="Encore: concert intelligence for promoters, venues and analysts.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
)
for sub in (pipelines_cli.app, evals_cli.app):
    app.registered_commands.extend(sub.registered_commands)
    app.registered_groups.extend(sub.registered_groups)

bench_app = typer.Typer(
    help="Benchmarks, each with a baseline measured in the same run.", no_args_is_help=True
)
for sub in (pipelines_cli.bench_app, models_cli.bench_app):
    bench_app.registered_commands.extend(sub.registered_commands)
app.add_typer(bench_app, name="bench")

err_console = Console(stderr=True)


@app.callback()
def _configure(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="log progress details to stderr")
    ] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False)],
    )


@app.command("demo")
def demo_command(
    scale: Annotated[ScaleName, typer.Option(help="size of the demo dataset")] = "default",
    seed: Annotated[int, typer.Option(help="seed of the demo dataset")] = 42,
    no_ui: Annotated[bool, typer.Option("--no-ui", help="build everything, start no UI")] = False,
) -> None:
    """Build the demo: the warehouse of realistic data (reused when it already exists)."""
    settings = Settings()
    build = last_build(settings)
    params = (build or {}).get("parameters", {})
    console = pipelines_cli.console
    if params.get("scale") == scale and params.get("seed") == seed:
        console.print(
            f"Reusing the {scale} demo warehouse built {build['built_at']:%Y-%m-%d %H:%M} "  # type: ignore[index]
            f"(as of {params['as_of']}) at {settings.warehouse_file}"
        )
        counts = build["counts"]  # type: ignore[index]
    else:
        console.print(f"Building the {scale} demo warehouse at {settings.warehouse_file} ...")
        counts, elapsed = pipelines_cli.build_dataset(settings, scale, seed, date.today())
        console.print(f"Built in {elapsed:.1f} s.")
    pipelines_cli.print_counts(counts, "Demo warehouse")
    if not no_ui:
        console.print(
            "The chat UI is not part of this build yet; the warehouse is ready for queries."
        )


@bench_app.command("all")
def bench_all_command() -> None:
    """Run every benchmark at its default size (what `make bench` runs)."""
    for command in bench_app.registered_commands:
        if command.name != "all" and command.callback is not None:
            pipelines_cli.console.rule(f"bench {command.name}")
            try:
                command.callback()
            except typer.BadParameter as exc:  # e.g. no real data beside this clone: skip, say why
                pipelines_cli.console.print(f"skipped: {exc}")


def main() -> None:
    """Console-script entry: EncoreErrors become one clear line and exit code 2."""
    try:
        app()
    except EncoreError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
