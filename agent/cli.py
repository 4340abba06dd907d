"""The `encore` command: one root that gathers each package's commands."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Final

import typer
from rich.console import Console
from rich.logging import RichHandler

from agent import commands as agent_cli
from agent.loadtest import cli as load_cli
from agent.stack import cli as stack_cli
from agent.ui.users import users_app
from core.errors import EncoreError
from core.process import exit_now
from core.settings import Settings
from evals import cli as evals_cli
from mcp_servers import cli as mcp_cli
from models import commands as models_cli
from models.recommend import cli as recommend_cli
from models.serving import commands as serving_cli
from pipelines import commands as pipelines_cli
from pipelines.aws import commands as aws_cli
from pipelines.commands.schedule import add_refreshers
from pipelines.generate import ScaleName
from pipelines.schedule import Refresher
from tools.dashboard import cli as dashboard_cli
from tools.interpreter import cli as interpreter_cli
from tools.query import cli as query_cli

app = typer.Typer(
    name="encore",
    help="Encore: concert intelligence for promoters, venues and analysts.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
)
# Each package owns its commands; the root only gathers them.
for sub in (
    pipelines_cli.app,
    models_cli.app,
    query_cli.app,
    interpreter_cli.app,
    dashboard_cli.app,
    agent_cli.app,
    mcp_cli.app,
    evals_cli.app,
):
    app.registered_commands.extend(sub.registered_commands)
    app.registered_groups.extend(sub.registered_groups)
app.add_typer(recommend_cli.app, name="recommend")
app.add_typer(
    aws_cli.app,
    name="aws",
    help="The AWS path: the CloudFormation stack, sync (Glue catalog, Lake Formation grants, "
    "Redshift, SageMaker models), the Glue ETL job and the SageMaker endpoint.",
)
aws_cli.app.add_typer(serving_cli.endpoint_app, name="endpoint")
aws_cli.app.add_typer(stack_cli.stack_app, name="stack")
app.add_typer(users_app, name="users")


# `encore pipeline schedule` retrains the models after new data (requirement 3.3). Pipelines may
# not import models (DESIGN.md §2), so the root, which mounts both, hands the trainers down.
_PERFORMANCE_DATA = frozenset(
    {"artists", "venues", "concerts", "concert_listings", "ticket_sales", "concert_results"}
)
_MODEL_DATA = {  # what each model reads; the recommender first, as 3.3 is about it
    "recommender": (_PERFORMANCE_DATA - {"concert_results"}) | {"fans"},
    "venue_ranking": _PERFORMANCE_DATA,
    "sales_forecast": _PERFORMANCE_DATA,
}


def _retrain(name: str) -> Callable[[Settings], object]:
    def run(settings: Settings) -> object:  # imported when used: the CLI starts without sklearn
        if name == "recommender":
            from models.recommend import train

            return train(settings)
        if name == "venue_ranking":
            from models.ranking import train_ranking

            return train_ranking(settings)
        from models.forecast.train import train as train_forecast

        return train_forecast(settings)

    return run


def _trained_at(name: str) -> Callable[[Settings], datetime | None]:
    def at(settings: Settings) -> datetime | None:
        from models.registry import ModelRegistry  # joblib and numpy: only when asked

        champion = ModelRegistry(settings).current(name)
        return champion.trained_at if champion else None

    return at


add_refreshers(
    *(Refresher(n, _retrain(n), data, _trained_at(n)) for n, data in _MODEL_DATA.items())
)

bench_app = typer.Typer(
    help="Benchmarks, each with a baseline measured in the same run.", no_args_is_help=True
)
for sub in (
    pipelines_cli.bench_app,
    models_cli.bench_app,
    recommend_cli.bench_app,
    query_cli.bench_app,
    mcp_cli.bench_app,
    agent_cli.bench_app,
    load_cli.bench_app,
):
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


HostOpt = Annotated[str, typer.Option(help="address the chat UI listens on")]
PortOpt = Annotated[int, typer.Option(help="port of the chat UI")]


@app.command("demo")
def demo_command(
    scale: Annotated[ScaleName, typer.Option(help="size of the demo dataset")] = "default",
    seed: Annotated[int, typer.Option(help="seed of the demo dataset")] = 42,
    no_ui: Annotated[bool, typer.Option("--no-ui", help="build everything, start no UI")] = False,
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8000,
) -> None:
    """The whole demo: build the warehouse, run the pipelines, train the models, start the UI.

    Each step is skipped when its result already exists, so a second run starts in seconds.
    """
    # heavy libraries load here, not at import: `encore --help` stays fast (tests/test_cli.py)
    from models.registry import ModelRegistry
    from pipelines.sinks.warehouse import last_build

    settings = Settings()
    build = last_build(settings)
    params = (build or {}).get("parameters", {})
    console = pipelines_cli.console
    rebuilt = not (params.get("scale") == scale and params.get("seed") == seed)
    if rebuilt:
        console.print(f"Building the {scale} demo warehouse at {settings.warehouse_file} ...")
        counts, elapsed = pipelines_cli.build_dataset(settings, scale, seed, date.today())
        console.print(f"Built in {elapsed:.1f} s.")
    else:
        console.print(
            f"Reusing the {scale} demo warehouse built {build['built_at']:%Y-%m-%d %H:%M} "  # type: ignore[index]
            f"(as of {params['as_of']}) at {settings.warehouse_file}"
        )
        counts = build["counts"]  # type: ignore[index]
    pipelines_cli.print_counts(counts, "Demo warehouse")
    if rebuilt:  # the landing folder, the stream, the APIs with keys, then the quality report
        try:  # of the whole warehouse: the demo has just built all of it
            pipelines_cli.flows.pipeline_run_command(
                landing=None, stream="events", apis=True, quality="warehouse"
            )
        except typer.Exit:
            console.print("[yellow]The pipeline run reported problems (above); continuing.[/]")

    registry = ModelRegistry(settings)
    stale = [m for m in models_cli.MODELS if rebuilt or registry.current(m) is None]
    for model in stale:
        models_cli.train_command(model=model, as_json=False)
    if not stale:
        console.print("Reusing the trained models: " + ", ".join(models_cli.MODELS))
    if no_ui:  # the login the UI would print: the REST API needs a user too
        from agent.ui.auth import ensure_demo_user
        from agent.ui.config import UiSettings

        name, password = ensure_demo_user(settings, UiSettings().demo_user)
        console.print(
            f"Demo login: {name} / {password} (analyst), for the chat UI (`encore ui`) and "
            "POST /v1/token of the REST API (`encore serve api`); more users and roles: "
            "`encore users add NAME --role partner|analyst|admin`",
            soft_wrap=True,  # one line to copy the password from
        )
    else:
        from agent.ui.launch import start_ui  # Chainlit takes seconds to import: only when used

        raise typer.Exit(start_ui(settings, host=host, port=port))


@app.command("ui")
def ui_command(
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8000,
    open_browser: Annotated[bool, typer.Option("--open", help="open it in a browser")] = False,
) -> None:
    """Start the chat UI on the current warehouse (prints the address and the demo login)."""
    from agent.ui.launch import start_ui

    raise typer.Exit(start_ui(Settings(), host=host, port=port, open=open_browser))


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


ONE_SHOT: Final = frozenset({"ask"})
"""Commands that are done when they return: the console script then leaves at once (see
`core.process`), the user having their answer (`encore ask`: about a second sooner)."""


def main() -> None:
    """Console-script entry: EncoreErrors become one clear line and exit code 2."""
    try:
        app()
    except EncoreError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        raise SystemExit(2) from None
    except SystemExit as done:
        command = next((arg for arg in sys.argv[1:] if not arg.startswith("-")), None)
        if command in ONE_SHOT and isinstance(done.code, int | None):  # after -v too
            exit_now(done.code or 0)
        raise


if __name__ == "__main__":
    main()
