"""`pipeline_health` on the pipelines server, through the in-memory MCP client."""

from __future__ import annotations

from pathlib import Path

from core.settings import Settings
from tests.conftest import query_warehouse
from tests.mcp_servers.conftest import connected
from tests.tools.dashboard.runs import ingest_sample_runs


async def test_pipeline_health_reports_the_ledgers_runs_read_only(
    small_warehouse: Settings, tmp_path: Path
) -> None:
    settings = ingest_sample_runs(small_warehouse, tmp_path)
    [(runs, quarantined)] = query_warehouse(
        settings, "SELECT count(*), sum(quarantined) FROM pipeline_runs"
    )
    async with connected(settings, "pipelines") as client:
        tool = {t.name: t for t in (await client.list_tools()).tools}["pipeline_health"]
        every = await client.call_tool("pipeline_health", {})
        crm = await client.call_tool("pipeline_health", {"days": 7, "source": "crm"})
    assert tool.annotations is not None and tool.annotations.readOnlyHint is True
    assert tool.outputSchema and "open_alerts" in tool.outputSchema["properties"]
    assert not every.isError, every.content[0].text
    health = every.structuredContent
    assert health is not None
    assert (health["runs"], health["quarantined"], health["failed_runs"]) == (runs, quarantined, 1)
    assert {a["source"] for a in health["open_alerts"]} >= {"ingest:partner-feed"}
    assert "artists" in {f["table"] for f in health["freshness"]}
    assert crm.structuredContent is not None
    assert [s["source"] for s in crm.structuredContent["sources"]] == ["crm"]


async def test_partners_may_not_see_pipeline_operations(small_warehouse: Settings) -> None:
    async with connected(small_warehouse, "pipelines", role="partner") as client:
        result = await client.call_tool("pipeline_health", {})
    assert result.isError and "partner" in result.content[0].text
