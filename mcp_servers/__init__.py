"""Thin MCP servers over `tools/`, one per domain and `all` with everything.

    build_server("insights", settings)  ->  FastMCP named encore-insights

A domain module is a name, instructions and registrations; the tools live in `tools/`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Final, Literal, get_args

from core.settings import Settings
from tools.context import ToolContext

if TYPE_CHECKING:
    from mcp.server.fastmcp import FastMCP

ServerName = Literal["warehouse", "insights", "charts", "web", "pipelines", "analysis", "all"]
DOMAINS: Final = ("warehouse", "insights", "charts", "web", "pipelines", "analysis")


def build_server(
    name: ServerName,
    settings: Settings,
    *,
    user: str = "mcp",
    role: str = "analyst",
    host: str = "127.0.0.1",
    port: int = 8000,
    per_call_user: bool = False,
) -> FastMCP:
    """The FastMCP server `name`, its tools bound to this user and role (`per_call_user`: the
    client may name each call's user instead; see `mcp_servers.binding`)."""
    if name not in get_args(ServerName):
        raise ValueError(
            f"unknown MCP server {name!r}; choose one of {', '.join(get_args(ServerName))}"
        )
    from mcp.server.fastmcp import FastMCP  # here: `encore --help` imports this package

    domains = DOMAINS if name == "all" else (name,)
    modules = [importlib.import_module(f"mcp_servers.{domain}") for domain in domains]
    server = FastMCP(
        f"encore-{name}",
        instructions=" ".join(m.INSTRUCTIONS for m in modules),
        host=host,
        port=port,
        log_level="WARNING",
    )
    ctx = ToolContext(settings=settings, user=user, role=role, per_call_user=per_call_user)
    for module in modules:
        module.register(server, ctx)
    return server
