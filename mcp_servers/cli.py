"""`encore mcp SERVER`: serve an MCP server over stdio (for Claude Desktop, IDEs) or HTTP."""

from __future__ import annotations

import importlib
import json
import logging
import sys
import threading
from typing import Annotated, Literal

import typer

from core.settings import Settings
from mcp_servers import ServerName, build_server

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
    threading.Thread(target=warm_up, args=(settings,), name="warm-up", daemon=True).start()
    if transport == "http":
        typer.echo(f"Encore MCP server {server!r} at http://{host}:{port}/mcp", err=True)
        mcp.run("streamable-http")
    else:
        mcp.run("stdio")


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


def warm_up(settings: Settings) -> None:
    """Import scikit-learn and plotly and load the recommender while the client connects, so
    the first forecast or chart does not wait seconds for them."""
    for module in ("models.forecast.predict", "tools.charts.build", "tools.insights.recommend"):
        importlib.import_module(module)
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
