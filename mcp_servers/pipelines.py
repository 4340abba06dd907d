"""The pipelines server: ingestion triggers (they write, and need confirm=true), run status and
pipeline health."""

from __future__ import annotations

from mcp.server.fastmcp import FastMCP

from mcp_servers.binding import WRITES
from mcp_servers.binding import register as add
from tools import ingestion
from tools.context import ToolContext
from tools.dashboard import health

INSTRUCTIONS = (
    "Data pipelines. Tools that load data write to the warehouse: call them with confirm=false "
    "first, show the user what will happen, and only then with confirm=true."
)


def register(server: FastMCP, ctx: ToolContext) -> None:
    add(server, ctx, ingestion.ingest_file, WRITES)
    add(server, ctx, ingestion.start_pipeline_run, WRITES)
    add(server, ctx, ingestion.refresh_source, WRITES)
    add(server, ctx, ingestion.run_status)
    add(server, ctx, ingestion.quality_report)
    add(server, ctx, health.pipeline_health)
