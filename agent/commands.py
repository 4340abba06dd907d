"""CLI commands of the agent (mounted by agent/cli.py): `ask`, `chat`, `serve agentcore`,
`serve api`, and `bench agent` on `bench_app`."""

from __future__ import annotations

import asyncio
import json
import re
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer
from rich import box
from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table as RichTable

from agent.config import AgentSettings
from agent.formatting import is_number
from core.errors import EncoreError
from core.settings import Settings
from tools.results import Table

if TYPE_CHECKING:  # the agent stack (strands, mcp) loads only when a command runs
    from agent.service import AgentService, TurnResult
    from agent.ui.writes import PendingWrite

app = typer.Typer(no_args_is_help=True)
serve_app = typer.Typer(help="Serve the agent.", no_args_is_help=True)
app.add_typer(serve_app, name="serve")
bench_app = typer.Typer(no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)

SessionOpt = Annotated[str | None, typer.Option(help="session id; reuse it to continue")]
UserOpt = Annotated[str | None, typer.Option(help="user id (memory owner) [ENCORE_USER]")]
RoleOpt = Annotated[str | None, typer.Option(help="governance role [ENCORE_ROLE]")]
ModelOpt = Annotated[
    str | None, typer.Option(help="offline | bedrock:<id> | anthropic: | openai: | ollama:")
]


def json_result(result: TurnResult) -> dict[str, Any]:
    """The stable `ask --json` object: the TurnResult without tool outputs."""
    return {
        "answer": result.answer,
        "tool_calls": [{"name": c.name, "input": c.input} for c in result.tool_calls],
        "sql": result.sql,
        "tables": [t.model_dump(mode="json") for t in result.tables],
        "charts": result.charts,
        "latency_ms": result.latency_ms,
        "session": result.session,
    }


def _service(
    session: str | None, user: str | None, role: str | None, model: str | None
) -> AgentService:
    from agent.service import AgentService

    agent_settings = AgentSettings()
    return AgentService.create(
        Settings(),
        user=user or agent_settings.user,
        session=session,
        role=role or agent_settings.role,
        model=model or agent_settings.model,
        agent_settings=agent_settings,
    )


def render_table(table: Table, limit: int = 20) -> RichTable:
    """A warehouse table for the terminal (first `limit` rows), its cells formatted as the chat
    UI's grids show them (91%, $75.7K, 12,345)."""
    from agent.ui.cells import display_rows

    out = RichTable(
        box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, show_edge=False,
        collapse_padding=True,
    )  # fmt: skip
    # every row's cells, so a money column takes its unit from the whole column, as the
    # answer's lead and markdown table do (a lead's $707K is the table's $0.7M, not $707K)
    rows = display_rows(table)[:limit]
    headers = [column.replace("_", " ") for column in table.columns]  # wrap at their words
    # in a narrow terminal columns wrap between words, not inside them, while there is room
    words = []
    for index, header in enumerate(headers):
        texts = [header, *(row[index] for row in rows)]
        words.append(min(max((len(w) for t in texts for w in t.split()), default=1), 16))
    fits = sum(words) + 3 * len(words) <= console.width  # rich pads and spreads columns
    for index, header in enumerate(headers):
        # numbers right-aligned whatever the first cell is (a first month has no change)
        number = any(index < len(row) and is_number(row[index]) for row in table.rows[:limit])
        out.add_column(
            header,
            justify="right" if number else "left",
            overflow="fold",
            min_width=words[index] if fits else None,
        )
    for row in rows:
        out.add_row(*row)
    if len(table.rows) > limit:
        out.caption = f"{len(table.rows) - limit} more rows (`--json` prints them all)"
    return out


def _print_table(table: RichTable) -> None:
    """A table at its full width when the output is not a terminal (a file, a pipe, a test):
    there is no screen edge to wrap or cut its cells at."""
    if console.is_terminal:
        console.print(table)
        return
    width = console.measure(table, options=console.options.update(width=10_000)).maximum
    Console(width=max(width, console.width)).print(table)


_TAG_LIKE: Final = re.compile(r"<(?=[A-Za-z/])")


def _markdown(text: str) -> Markdown:
    """Markdown for the terminal, where `<artist>` in an answer is a placeholder to show, not an
    HTML tag to drop (code blocks are left as they are)."""
    parts = re.split(r"(```.*?```)", text, flags=re.DOTALL)
    return Markdown("".join(p if p.startswith("```") else _TAG_LIKE.sub(r"\\<", p) for p in parts))


def render_result(result: TurnResult, *, answer: bool = True) -> None:
    """An answer for the terminal: its text (without the markdown tables printed below it as
    tables), each table once, the SQL and charts; a write waiting for confirmation as what it
    would do and the command that does it, instead of the tool's raw answer."""
    from agent.ui.render import without_tables
    from agent.ui.writes import pending_write, terminal_text

    pending = pending_write(result.tool_calls)
    if pending is not None:
        console.print(_markdown(terminal_text(pending)))
    elif answer:
        text = result.answer or "_(no answer)_"
        if result.tables:
            text = without_tables(text, result.tables) or "_(see the table)_"
        console.print(_markdown(text))
    for table in result.tables:
        _print_table(render_table(table))
    for sql in result.sql:
        console.print(f"[dim]SQL: {sql}[/dim]")
    for chart in result.charts:
        console.print(f"[dim]chart: {chart.get('kind')} {chart.get('title') or ''}[/dim]")
    console.print(f"[dim]{result.latency_ms:.0f} ms · session {result.session}[/dim]")


@app.command("ask")
def ask_command(
    question: Annotated[str, typer.Argument(help="the question, in plain words")],
    session: SessionOpt = None,
    user: UserOpt = None,
    role: RoleOpt = None,
    model: ModelOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Ask the agent one question."""

    async def run() -> TurnResult:
        service = _service(session, user, role, model)
        try:
            return await service.ask(question)
        finally:
            await service.aclose()

    try:
        result = asyncio.run(run())
    except EncoreError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(json.dumps(json_result(result), default=str))
    else:
        render_result(result)


@app.command("chat")
def chat_command(
    session: SessionOpt = None, user: UserOpt = None, role: RoleOpt = None, model: ModelOpt = None
) -> None:
    """Talk to the agent in the terminal (/quit to leave)."""

    from agent.service import TextDelta, ToolFinished, ToolStarted, TurnDone
    from agent.ui.writes import is_pending, pending_write

    async def run() -> None:
        service = _service(session, user, role, model)
        console.print(f"[dim]Encore chat · session {service.session} · /quit to leave[/dim]")
        try:
            while True:
                try:
                    text = console.input("[bold cyan]you>[/bold cyan] ").strip()
                except EOFError:
                    break
                if text in ("/quit", "/exit"):
                    break
                if not text:
                    continue
                held = False  # a write waits for confirmation: its raw answer is not shown
                async for event in service.stream(text):
                    if isinstance(event, TextDelta) and not held:
                        console.print(event.text, end="", markup=False, highlight=False)
                    elif isinstance(event, ToolStarted):
                        console.print(f"[dim]→ {event.name}[/dim]")
                    elif isinstance(event, ToolFinished):
                        if event.error:
                            console.print(f"[yellow]! {event.name}: {event.error}[/yellow]")
                        held = held or is_pending(event.output)
                    elif isinstance(event, TurnDone):
                        console.print()
                        pending = pending_write(event.result.tool_calls)
                        if pending is None:
                            render_result(event.result, answer=False)
                        else:
                            await _confirm_write(service, pending)
        finally:
            await service.aclose()

    try:
        asyncio.run(run())
    except EncoreError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc


async def _confirm_write(service: AgentService, pending: PendingWrite) -> None:
    """`encore chat`'s confirmation step: say what the write would do, ask, and on yes call the
    tool again, confirmed, through the chat agent's MCP client."""
    from agent.ui.writes import call_write, describe, outcome_text

    console.print(Markdown(describe(pending)))
    try:
        reply = console.input("[bold]Go ahead?[/bold] \\[y/N] ").strip().lower()
    except EOFError:
        reply = ""
    if reply not in ("y", "yes"):
        console.print("Cancelled: nothing was changed.")
        return
    try:
        output = await asyncio.to_thread(call_write, service, pending)
    except EncoreError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return
    console.print(Markdown(outcome_text(output)))


@serve_app.command("agentcore")
def serve_agentcore(
    port: Annotated[int, typer.Option(help="HTTP port")] = 8080,
    host: Annotated[str, typer.Option(help="address to bind (0.0.0.0 in containers)")] = (
        "127.0.0.1"
    ),
) -> None:
    """Serve the agent as an AgentCore runtime: POST /invocations, GET /ping."""
    from agent.runtime import serve

    serve(port=port, host=host)


@serve_app.command("api")
def serve_api(
    port: Annotated[int, typer.Option(help="HTTP port")] = 8080,
    host: Annotated[str, typer.Option(help="address to bind (0.0.0.0 in containers)")] = (
        "127.0.0.1"
    ),
    workers: Annotated[
        int, typer.Option(min=1, help="worker processes; limits and sign-outs hold across them")
    ] = 1,
) -> None:
    """Serve the insights as a REST API with bearer-token auth (OpenAPI at /docs)."""
    from agent.rest.server import serve  # binds the port before the app's imports

    try:
        serve(host=host, port=port, workers=workers)
    except EncoreError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc


@bench_app.command("agent")
def bench_agent_command(
    rounds: Annotated[int, typer.Option(help="passes over the question set")] = 3,
    model: ModelOpt = None,
) -> None:
    """Offline agent latency, question to answer with tools: p50/p95 (warm) and cold start."""
    from agent.bench import bench_agent

    try:
        figures = bench_agent(Settings(), rounds=rounds, model=model)
    except EncoreError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    typer.echo(json.dumps(figures, indent=2))
