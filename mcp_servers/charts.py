"""The charts server: bar, line, scatter, heatmap and venue maps built from query results."""

from __future__ import annotations

from mcp.server.fastmcp import FastMCP

from mcp_servers.binding import register as add
from tools.charts import make_chart
from tools.context import ToolContext

INSTRUCTIONS = "Charts from tables (columns + rows): plotly JSON, and PNG on request."


def register(server: FastMCP, ctx: ToolContext) -> None:
    add(server, ctx, make_chart)
