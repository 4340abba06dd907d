"""The analysis server: Python analyses in a sandbox, on a data extract made for the request."""

from __future__ import annotations

from typing import Any

from mcp.server.fastmcp import FastMCP

from mcp_servers.binding import register as add
from tools.context import ToolContext
from tools.interpreter import AnalysisResult, list_analysis_templates, run_analysis

INSTRUCTIONS = (
    "Code interpreter: pandas/numpy code runs in a sandbox (no network, no files but the "
    "extract, time and memory limits); the data comes from a guarded SQL query."
)


def analyze(
    ctx: ToolContext,
    *,
    code: str = "",
    sql: str | None = None,
    template: str | None = None,
    params: dict[str, Any] | None = None,
) -> AnalysisResult:
    # Limits and the sandbox are the server's choice, never the client's: only these four cross.
    return run_analysis(ctx, code=code, sql=sql, template=template, params=params)


analyze.__name__ = "run_analysis"
analyze.__doc__ = run_analysis.__doc__


def register(server: FastMCP, ctx: ToolContext) -> None:
    add(server, ctx, analyze)
    add(server, ctx, list_analysis_templates)
