"""`encore mcp SERVER`: serve an MCP server over stdio (for Claude Desktop, IDEs) or HTTP."""

from __future__ import annotations

import importlib
import json
import logging
import sys
import threading
import time
from typing import Annotated, Literal

import typer

from core.process import exit_now
from core.settings import Settings
from mcp_servers import DOMAINS, ServerName, build_server

app = typer.Typer()
bench_app = typer.Typer()


@app.command("mcp")
def mcp_command(
    server: Annotated[ServerName, typer.Argument(help="which server; `all` serves every tool")],
    transport: Annotated[
        Literal["stdio", "http"], typer.Option(help="stdio for desktop clients, or streamable HTTP")
    ] = "stdio",
    host: Annotated[str, typer.Option(help="HTTP address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port")] = 8765,
    role: Annotated[
        str, typer.Option(envvar="ENCORE_ROLE", help="governance role: admin, analyst, partner")
    ] = "analyst",
    user: Annotated[str, typer.Option(envvar="ENCORE_USER", help="user id for the audit log")] = (
        "mcp"
    ),
    per_call_user: Annotated[
        bool,
        typer.Option(
            envvar="ENCORE_MCP_PER_CALL_USER",
            help='stdio only: take each call\'s user from its _meta "encore/user" (the agent '
            "shares one server among its users); the role stays --role",
        ),
    ] = False,
) -> None:
    """Serve Encore's tools over MCP (stdio by default; HTTP at http://HOST:PORT/mcp)."""
    if per_call_user and transport != "stdio":
        # over HTTP anyone who reaches the port could name any user
        raise typer.BadParameter("only a stdio server, whose one client started it, may take the "
                                 "user from each call", param_hint="--per-call-user")  # fmt: skip
    # stdout belongs to the protocol on stdio: logs go to stderr only
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, force=True)
    from core.warehouse import share_readers  # DuckDB: only when a server starts

    share_readers()  # a server answers call after call: keep the warehouse open between them
    settings = Settings()
    mcp = build_server(server, settings, user=user, role=role, host=host, port=port,
                       per_call_user=per_call_user)  # fmt: skip
    threading.Thread(target=warm_up, args=(settings, server), name="warm-up", daemon=True).start()
    if transport == "http":
        typer.echo(f"Encore MCP server {server!r} at http://{host}:{port}/mcp", err=True)
        mcp.run("streamable-http")
    else:
        mcp.run("stdio")
        exit_now(0)  # the client closed stdin: it waits for this exit (see core.process)


@bench_app.command("mcp")
def bench_mcp_command(
    repeats: Annotated[int, typer.Option(help="calls of each tool per transport")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Tool-call latency over MCP stdio and HTTP (p50/p95) against the same tools in-process."""
    from rich.console import Console
    from rich.table import Table

    from mcp_servers.bench import bench_mcp

    console = Console()
    with console.status("calling tools over stdio and HTTP ..."):
        result = bench_mcp(Settings(), repeats=repeats)
    if as_json:
        typer.echo(json.dumps(result))
        return
    table = Table("transport", "p50 ms", "p95 ms", "p50 / in-process", title="MCP tool calls")
    for transport, figures in result["transports"].items():
        table.add_row(
            transport,
            f"{figures['p50_ms']:.1f}",
            f"{figures['p95_ms']:.1f}",
            f"{figures['ratio_p50_to_in_process']:.2f}x",
        )
    console.print(table)


WARM_UP: tuple[tuple[str, str], ...] = (
    ("insights", "models.ranking"),
    ("charts", "tools.charts.plot"),
    ("insights", "models.forecast.predict"),
)
"""(domain, module) imported once a server of that domain serves, the most asked for first:
pandas for rankings, plotly for charts, scikit-learn for forecasts. Tool modules import them
only when called, so that a server lists its tools without them."""


WARM_UP_QUIET_S = 0.3
WARM_UP_ALONE_S = 2.0
WARM_UP_LATEST_S = 10.0
"""The warm-up begins once the client's calls pause (the last ended QUIET_S ago), or ALONE_S
after the start if no call has come (a user typing), and at the latest after LATEST_S: its
imports hold the GIL, and the client's first reads and calls would wait on them."""


def _quiet(started: float) -> None:
    """Return once the server is quiet enough to warm up (see WARM_UP_QUIET_S)."""
    from mcp_servers.binding import CALLS  # with mcp: not for `encore --help`

    while True:
        waited = time.monotonic() - started
        quiet = CALLS.quiet_for()
        if (
            waited >= WARM_UP_LATEST_S
            or (quiet is not None and quiet >= WARM_UP_QUIET_S)
            or (CALLS.last_end is None and not CALLS.running and waited >= WARM_UP_ALONE_S)
        ):
            return
        time.sleep(0.05)


def warm_up(settings: Settings, server: ServerName = "all") -> None:
    """Import pandas, plotly and scikit-learn and load the recommender while the client has no
    call running (after its first calls, or while its user types), so that a later ranking,
    chart or forecast does not wait seconds for them."""
    _quiet(time.monotonic())
    domains = DOMAINS if server == "all" else (server,)
    for domain, module in WARM_UP:
        if domain in domains:
            importlib.import_module(module)
    if "insights" not in domains:
        return
    try:
        from models.recommend import load_model
        from models.registry import ModelRegistry

        if ModelRegistry(settings).current("recommender") is not None:  # never train here
            load_model(settings)
    except Exception:  # a broken model is reported by the first call that needs it
        logging.getLogger(__name__).info("recommender not loaded ahead", exc_info=True)


def main() -> None:
    """`python -m mcp_servers SERVER ...` (what MCP clients launch)."""
    typer.main.get_command(app)(prog_name="python -m mcp_servers")
