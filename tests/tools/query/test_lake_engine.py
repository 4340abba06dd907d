"""The lake engine and the router as a user meets them: right engine, right numbers, no escape."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import duckdb
import pytest
import typer
from typer.testing import CliRunner

from core.errors import QueryRefusedError
from core.settings import Settings
from tests.conftest import copy_warehouse, query_warehouse
from tests.pipelines.lake_helpers import (
    DAYS_AGO,
    artists_on,
    copy_lake,
    day,
    ingested_lake,
)
from tools.context import ToolContext
from tools.query.audit import audit_log
from tools.query.cli import app
from tools.query.lake_engine import LakeFiles, connect_lake, lake_relations
from tools.query.router import choose
from tools.query.runner import run_sql


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The ingested lake (see lake_helpers), with logs of this module's own."""
    return copy_lake(ingested_lake(tmp_path_factory), tmp_path_factory.mktemp("lake-engine"))


def _ctx(settings: Settings, role: str = "admin", user: str = "tester") -> ToolContext:
    return ToolContext(settings, user=user, role=role)


def test_lake_questions_go_to_the_lake_and_warehouse_ones_to_the_warehouse(
    lake: Settings,
) -> None:
    history = run_sql(
        _ctx(lake), "SELECT dt, count(*) AS n FROM curated_artists GROUP BY dt ORDER BY dt"
    )
    assert history.engine == "lake" and "history" in history.reason
    expected = [[day(ago).isoformat(), len(artists_on(ago))] for ago in sorted(DAYS_AGO)[::-1]]
    assert history.rows == expected

    current = run_sql(_ctx(lake), "SELECT count(*) AS n FROM artists")
    assert current.engine == "warehouse" and "artists" in current.reason
    assert current.rows == [[query_warehouse(lake, "SELECT count(*) FROM artists")[0][0]]]

    raw = run_sql(
        _ctx(lake),
        "SELECT source, count(*) AS files, sum(bytes) AS bytes FROM raw_files "
        "GROUP BY source ORDER BY source",
    )
    assert raw.engine == "lake" and "as received" in raw.reason
    on_disk = {
        s: sorted(p for p in (lake.lake_dir / "raw" / f"source={s}").rglob("*") if p.is_file())
        for s in ("crm", "files")
    }
    assert raw.rows == [[s, len(f), sum(p.stat().st_size for p in f)] for s, f in on_disk.items()]


def test_an_empty_lake_says_so_instead_of_listing_nothing(
    small_warehouse: Settings, tmp_path: Path
) -> None:
    """A warehouse built by the generator has no lake yet: the refusal says why."""
    generated = copy_warehouse(small_warehouse, tmp_path)
    with pytest.raises(QueryRefusedError, match=r"no tables here yet .*files are ingested"):
        run_sql(_ctx(generated), "SELECT count(*) FROM curated_ticket_sales")
    with pytest.raises(QueryRefusedError, match=r"query these tables: .*ticket_sales"):
        run_sql(_ctx(generated), "SELECT count(*) FROM no_such_table")


def test_raw_payloads_read_back_exactly(lake: Settings) -> None:
    [[name, content]] = run_sql(
        _ctx(lake), "SELECT name, content FROM raw_files WHERE source = 'files'"
    ).rows
    [path] = (lake.lake_dir / "raw" / "source=files").rglob("*.csv")
    assert (name, content) == (path.name, path.read_bytes().decode())
    # content searched with no partition filter: every partition's files are read
    found = run_sql(
        _ctx(lake), "SELECT source, dt FROM raw_files WHERE content LIKE '%Band 2-0%'"
    ).rows
    assert found == [["crm", day(2).isoformat()]]


def test_the_engine_can_be_chosen_and_mixed_queries_are_refused(lake: Settings) -> None:
    assert choose("SELECT 1 FROM curated_venues", "warehouse").engine == "warehouse"
    with pytest.raises(QueryRefusedError, match="table curated_venues is not available"):
        run_sql(_ctx(lake), "SELECT count(*) FROM curated_venues", engine="warehouse")
    with pytest.raises(QueryRefusedError, match="table venues is not available"):
        run_sql(_ctx(lake), "SELECT count(*) FROM venues", engine="lake")
    mixed = "SELECT a.name FROM artists a JOIN curated_artists c USING (artist_id)"
    with pytest.raises(QueryRefusedError, match="one query runs on one engine"):
        run_sql(_ctx(lake, user="mixer"), mixed)
    [entry] = [e for e in audit_log(_ctx(lake)).entries if e.user == "mixer"]
    assert (entry.decision, entry.sql) == ("refused", mixed)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('../../../../etc/passwd')",
        "SELECT * FROM '/etc/passwd'",
        "SELECT content FROM raw_files UNION ALL SELECT content FROM read_blob('/etc/passwd')",
        "COPY (SELECT 1) TO '/tmp/x.csv'",
    ],
)
def test_the_guard_refuses_files_on_the_lake_engine(lake: Settings, sql: str) -> None:
    with pytest.raises(QueryRefusedError):
        run_sql(_ctx(lake), sql, engine="lake")


def test_the_lake_connection_reads_the_lake_folder_and_nothing_else(lake: Settings) -> None:
    # the second wall, under the guard: even SQL the guard never sees cannot leave the lake
    sibling = lake.data_dir / "lake-old" / "x.parquet"
    sibling.parent.mkdir(exist_ok=True)
    duckdb.execute(f"COPY (SELECT 42 AS secret) TO '{sibling}'")
    con = connect_lake(lake, LakeFiles(lake.lake_dir))
    try:
        assert con.execute("SELECT count(*) FROM curated_venues").fetchone() == (1,)
        for sql in (
            "SELECT * FROM read_csv('/etc/passwd')",
            f"SELECT * FROM read_parquet('{sibling}')",
            f"SELECT * FROM read_text('{lake.lake_dir}/../warehouse.duckdb')",
            f"COPY (SELECT 1) TO '{lake.lake_dir}/raw/x.csv'",
            f"ATTACH '{lake.lake_dir}/x.duckdb'",
        ):
            with pytest.raises(duckdb.PermissionException, match="disabled by configuration"):
                con.execute(sql)
        for sql in ("SET enable_external_access = true", "SET allowed_paths = ['/etc/passwd']"):
            with pytest.raises(duckdb.InvalidInputException, match="locked"):
                con.execute(sql)
    finally:
        con.close()


def test_analysts_read_curated_data_as_granted_and_never_raw_files(lake: Settings) -> None:
    result = run_sql(_ctx(lake, "analyst"), "SELECT count(*) AS n FROM curated_artists")
    assert result.rows == [[sum(len(artists_on(a)) for a in DAYS_AGO)]]
    with pytest.raises(QueryRefusedError, match="raw_files is not available to role analyst"):
        run_sql(_ctx(lake, "analyst"), "SELECT name FROM raw_files")
    with pytest.raises(QueryRefusedError, match="not available to role partner"):
        run_sql(_ctx(lake, "partner"), "SELECT count(*) FROM curated_concert_listings")


def _reads(settings: Settings, user: str) -> set[tuple[str, str]]:
    path = settings.data_dir / "lake_access.sqlite"
    with closing(sqlite3.connect(path)) as con:
        rows = con.execute(
            "SELECT dataset, partition FROM lake_access WHERE user = ?", (user,)
        ).fetchall()
    return {(d, p) for d, p in rows}


def test_the_partitions_a_query_reads_are_logged(lake: Settings) -> None:
    old = day(60).isoformat()
    run_sql(
        _ctx(lake, user="reader"),
        f"SELECT count(*) FROM raw_files WHERE source = 'crm' AND dt = DATE '{old}'",
    )
    assert _reads(lake, "reader") == {("raw/crm", f"dt={old}")}
    run_sql(_ctx(lake, user="scanner"), "SELECT count(*) FROM curated_artists")
    assert _reads(lake, "scanner") == {("curated/artists", f"dt={day(a)}") for a in DAYS_AGO}
    run_sql(_ctx(lake, user="warehouse-only"), "SELECT count(*) FROM artists")
    assert _reads(lake, "warehouse-only") == set()


def test_encore_query_engine_option(lake: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCORE_DATA_DIR", str(lake.data_dir))
    root = typer.Typer()
    root.registered_commands.extend(app.registered_commands)
    root.add_typer(typer.Typer(), name="other")  # a group, so `query` is a subcommand
    out = CliRunner().invoke(
        root,
        ["query", "SELECT count(*) AS n FROM curated_venues", "--role", "admin", "--json"],
    )
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout) | {"sql": ""} == json.loads(out.stdout) | {
        "sql": "", "rows": [[1]], "engine": "lake"
    }  # fmt: skip
    out = CliRunner().invoke(
        root, ["query", "SELECT count(*) FROM venues", "--engine", "lake", "--role", "admin"]
    )
    assert out.exit_code == 1 and "table venues is not available" in out.output
    out = CliRunner().invoke(root, ["query", "SELECT 1", "--engine", "spark"])
    assert out.exit_code != 0


def test_lake_relations_skip_empty_zones(tmp_path: Path) -> None:
    assert lake_relations(tmp_path) == []


async def test_the_mcp_run_sql_tool_says_which_engine_answered(lake: Settings) -> None:
    from mcp.shared.memory import create_connected_server_and_client_session

    from mcp_servers import build_server

    server = build_server("warehouse", lake, role="admin")
    async with create_connected_server_and_client_session(server._mcp_server) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        lake_rows = await client.call_tool(
            "run_sql", {"sql": "SELECT count(*) AS n FROM curated_venues"}
        )
        forced = await client.call_tool(
            "run_sql", {"sql": "SELECT count(*) AS n FROM venues", "engine": "lake"}
        )
    assert tools["run_sql"].inputSchema["properties"]["engine"]["enum"] == [
        "auto", "warehouse", "lake"
    ]  # fmt: skip
    assert not lake_rows.isError, lake_rows.content
    assert lake_rows.structuredContent is not None
    assert lake_rows.structuredContent["engine"] == "lake"
    assert lake_rows.structuredContent["rows"] == [[1]]
    assert forced.isError and "table venues is not available" in forced.content[0].text  # type: ignore[union-attr]
