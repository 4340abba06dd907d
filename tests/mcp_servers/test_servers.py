"""The MCP servers as clients see them: catalog, annotations, schemas, calls, errors, resources."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from core.settings import Settings
from mcp_servers import DOMAINS, build_server
from tests.conftest import copy_warehouse, query_warehouse
from tests.mcp_servers.conftest import INSPECTOR, connected, server_env

EXPECTED = {
    "warehouse": {
        "semantic_query", "run_sql", "describe_warehouse", "semantic_catalog", "vocabulary",
    },
    "insights": {
        "venue_ranking", "predict_ticket_sales", "predict_ticket_sales_batch", "predict_concerts",
        "recommend_concerts", "similar_artists", "venues_for_artist", "recommend_batch",
        "artist_profile", "upcoming_concerts", "model_metrics",
    },
    "charts": {"make_chart"},
    "web": {"fetch_page", "lookup_source"},
    "pipelines": {
        "ingest_file", "start_pipeline_run", "refresh_source", "run_status", "quality_report",
        "pipeline_health",
    },
    "analysis": {"run_analysis", "list_analysis_templates"},
}  # fmt: skip
WRITE_TOOLS = {"ingest_file", "start_pipeline_run", "refresh_source"}


def _payload(result: object) -> dict:
    assert not result.isError, result.content[0].text  # type: ignore[attr-defined]
    return result.structuredContent  # type: ignore[attr-defined, no-any-return]


@pytest.mark.parametrize("domain", DOMAINS)
async def test_each_server_lists_its_tools_with_schemas_and_annotations(
    small_warehouse: Settings, domain: str
) -> None:
    from mcp.shared.memory import create_connected_server_and_client_session

    server = build_server(domain, small_warehouse)  # type: ignore[arg-type]
    async with create_connected_server_and_client_session(server._mcp_server) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == EXPECTED[domain]
    for name, tool in tools.items():
        assert tool.description and len(tool.description) > 20, name
        assert tool.outputSchema, f"{name} has no output schema"
        assert tool.annotations is not None
        assert tool.annotations.readOnlyHint is (name not in WRITE_TOOLS), name


async def test_all_serves_every_tool(small_warehouse: Settings) -> None:
    async with connected(small_warehouse) as all_tools:
        names = {t.name for t in (await all_tools.list_tools()).tools}
        assert names == set().union(*EXPECTED.values())


async def test_semantic_query_returns_rows_with_the_sql(small_warehouse: Settings) -> None:
    async with connected(small_warehouse) as all_tools:
        result = _payload(
            await all_tools.call_tool(
                "semantic_query", {"measures": ["tickets_sold"], "dimensions": ["genre"]}
            )
        )
        assert "SELECT" in result["sql"].upper()
        by_genre = {row[0]: row[1] for row in result["rows"]}
        expected = dict(
            query_warehouse(
                small_warehouse,
                "SELECT a.genre, sum(p.tickets_sold) FROM concert_performance p "
                "JOIN artists a USING (artist_id) GROUP BY ALL",
            )
        )
        assert by_genre == pytest.approx(expected)


async def test_unsafe_sql_is_refused_with_a_reason(small_warehouse: Settings) -> None:
    async with connected(small_warehouse) as all_tools:
        result = await all_tools.call_tool("run_sql", {"sql": "DROP TABLE concerts"})
        assert result.isError
        assert "DROP" in result.content[0].text.upper()


async def test_vocabulary_resource_lists_warehouse_names(small_warehouse: Settings) -> None:
    async with connected(small_warehouse) as all_tools:
        (artist,) = query_warehouse(small_warehouse, "SELECT min(name) FROM artists")[0]
        resource = await all_tools.read_resource("encore://vocabulary/artists")
        names = json.loads(resource.contents[0].text)  # type: ignore[union-attr]
        assert artist in names["names"]
        templates = (await all_tools.list_resource_templates()).resourceTemplates
        assert any(t.uriTemplate == "encore://vocabulary/{kind}" for t in templates)
        prompts = {p.name for p in (await all_tools.list_prompts()).prompts}
        assert {"artist_briefing", "plan_a_show"} <= prompts


async def test_artist_profile_by_name_typed_in_lower_case(small_warehouse: Settings) -> None:
    async with connected(small_warehouse) as all_tools:
        (name, concerts) = query_warehouse(
            small_warehouse,
            "SELECT a.name, count(*) FROM concert_performance p JOIN artists a USING (artist_id) "
            "WHERE p.status = 'completed' GROUP BY ALL ORDER BY 2 DESC, 1 LIMIT 1",
        )[0]
        result = _payload(await all_tools.call_tool("artist_profile", {"artist": name.lower()}))
        assert result["artist"]["name"] == name
        assert result["summary"]["concerts"] == concerts


async def test_unknown_artist_error_suggests_close_names(small_warehouse: Settings) -> None:
    async with connected(small_warehouse) as all_tools:
        result = await all_tools.call_tool("artist_profile", {"artist": "Zzyzx Qwv"})
        assert result.isError
        assert "no artist named" in result.content[0].text


async def test_write_tools_do_nothing_until_confirmed(small_warehouse: Settings, tmp_path) -> None:
    from mcp.shared.memory import create_connected_server_and_client_session

    settings = copy_warehouse(small_warehouse, tmp_path)
    upload = settings.data_dir / "uploads" / "new_artists.csv"
    upload.parent.mkdir()
    upload.write_text("artist_id,name,genre\nNEW1,The Loopback Band,rock\n")
    server = build_server("pipelines", settings)
    async with create_connected_server_and_client_session(server._mcp_server) as client:
        first = _payload(await client.call_tool("ingest_file", {"path": str(upload)}))
        assert first["status"] == "needs_confirmation"
        assert query_warehouse(settings, "SELECT count(*) FROM artists WHERE artist_id='NEW1'") == [
            (0,)
        ]
        done = _payload(
            await client.call_tool("ingest_file", {"path": str(upload), "confirm": True})
        )
    assert done["status"] == "done", done
    assert done["files"][0]["accepted"] == 1
    assert query_warehouse(settings, "SELECT name FROM artists WHERE artist_id = 'NEW1'") == [
        ("The Loopback Band",)
    ]


async def test_partner_role_cannot_change_data_or_read_rows(
    small_warehouse: Settings, tmp_path
) -> None:
    from mcp.shared.memory import create_connected_server_and_client_session

    server = build_server("all", small_warehouse, role="partner")
    async with create_connected_server_and_client_session(server._mcp_server) as client:
        write = await client.call_tool("start_pipeline_run", {"confirm": True})
        rows = await client.call_tool("run_sql", {"sql": "SELECT * FROM fans LIMIT 5"})
    assert write.isError and "partner" in write.content[0].text
    assert rows.isError


async def test_stdio_transport_with_the_sdk_client(small_warehouse: Settings) -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "mcp_servers", "all"], env=server_env(small_warehouse)
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as client:
        await client.initialize()
        names = {t.name for t in (await client.list_tools()).tools}
        result = _payload(
            await client.call_tool("upcoming_concerts", {"state": "NY", "date_from": "2026-11-01"})
        )
    assert "upcoming_concerts" in names
    assert result["row_count"] == len(result["rows"]) > 0
    assert {row[result["columns"].index("state")] for row in result["rows"]} == {"NY"}


async def test_streamable_http_transport_with_the_sdk_client(http_server: str) -> None:
    async with (
        streamable_http_client(http_server) as (read, write, _),
        ClientSession(read, write) as client,
    ):
        await client.initialize()
        names = {t.name for t in (await client.list_tools()).tools}
        status = _payload(await client.call_tool("run_status", {}))
    assert names == set().union(*EXPECTED.values())
    assert status == {"runs": []}


@pytest.mark.slow
def test_mcp_inspector_cli_lists_and_calls_tools(small_warehouse: Settings) -> None:
    inspector = INSPECTOR / "mcp-inspector"
    if not inspector.exists() or shutil.which("node") is None:
        pytest.skip(f"MCP Inspector not installed at {inspector} (`make test` installs it)")
    command = [str(inspector), "--cli", sys.executable, "-m", "mcp_servers", "all"]
    env = server_env(small_warehouse)
    listed = subprocess.run(
        [*command, "--method", "tools/list"], env=env, capture_output=True, text=True, timeout=120
    )
    assert listed.returncode == 0, listed.stderr
    names = {t["name"] for t in json.loads(listed.stdout)["tools"]}
    assert names == set().union(*EXPECTED.values())
    called = subprocess.run(
        [*command, "--method", "tools/call", "--tool-name", "upcoming_concerts",
         "--tool-arg", "state=CA", "--tool-arg", "date_from=2026-11-01", "--tool-arg", "limit=3"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert called.returncode == 0, called.stderr
    payload = json.loads(called.stdout)
    assert payload["isError"] is False
    assert len(payload["structuredContent"]["rows"]) == 3


@pytest.mark.slow
def test_latency_bench_measures_every_transport_against_in_process(
    small_warehouse: Settings,
) -> None:
    from mcp_servers.bench import bench_mcp

    result = bench_mcp(small_warehouse, repeats=3)
    transports = result["transports"]
    assert set(transports) == {"in_process", "stdio", "http"}
    assert transports["in_process"]["ratio_p50_to_in_process"] == 1.0
    for figures in transports.values():
        assert 0 < figures["p50_ms"] <= figures["p95_ms"]
        assert set(figures["tools"]) == {"run_status", "semantic_query"}
