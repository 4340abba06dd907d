"""`ingest_file` over MCP reads only from the data dir's uploads/landing and configured folders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mcp.shared.memory import create_connected_server_and_client_session

from core.settings import Settings
from mcp_servers import build_server
from tests.conftest import copy_warehouse, query_warehouse

ROW = "artist_id,name,genre\n{id},The {id} Band,rock\n"


async def _ingest(settings: Settings, path: Path, confirm: bool = True) -> Any:
    server = build_server("pipelines", settings)
    async with create_connected_server_and_client_session(server._mcp_server) as client:
        return await client.call_tool("ingest_file", {"path": str(path), "confirm": confirm})


def _loaded(settings: Settings, artist_id: str) -> bool:
    rows = query_warehouse(
        settings, f"SELECT count(*) FROM artists WHERE artist_id = '{artist_id}'"
    )
    return bool(rows[0][0])


@pytest.fixture
def warehouse(
    small_warehouse: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.delenv("ENCORE_INGEST_ROOTS", raising=False)
    monkeypatch.delenv("ENCORE_INGEST_ALLOW_CWD", raising=False)
    return copy_warehouse(small_warehouse, tmp_path)


async def test_the_working_directory_is_not_a_root_unless_configured(
    warehouse: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cwd = tmp_path / "where-the-server-started"
    cwd.mkdir()
    (cwd / "artists.csv").write_text(ROW.format(id="CWD1"))
    monkeypatch.chdir(cwd)

    refused = await _ingest(warehouse, cwd / "artists.csv")
    assert refused.isError
    assert "outside the folders Encore ingests from" in refused.content[0].text
    assert str(warehouse.data_dir.resolve() / "uploads") in refused.content[0].text
    assert not _loaded(warehouse, "CWD1")

    monkeypatch.setenv("ENCORE_INGEST_ALLOW_CWD", "true")
    done = await _ingest(warehouse, cwd / "artists.csv")
    assert not done.isError, done.content[0].text
    assert _loaded(warehouse, "CWD1")


async def test_uploads_landing_and_configured_roots_are_read(
    warehouse: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for folder, artist in (("uploads", "UP1"), ("landing", "LAND1")):
        path = warehouse.data_dir / folder / "batch" / "artists.csv"
        path.parent.mkdir(parents=True)
        path.write_text(ROW.format(id=artist))
        result = await _ingest(warehouse, path)
        assert not result.isError, result.content[0].text
        assert result.structuredContent["files"][0]["accepted"] == 1
        assert _loaded(warehouse, artist)

    shared = tmp_path / "partner-drop"
    shared.mkdir()
    (shared / "artists.csv").write_text(ROW.format(id="SHARED1"))
    assert (await _ingest(warehouse, shared / "artists.csv")).isError
    monkeypatch.setenv("ENCORE_INGEST_ROOTS", json.dumps([str(shared)]))
    assert not (await _ingest(warehouse, shared)).isError  # the folder, as well as its files
    assert _loaded(warehouse, "SHARED1")


async def test_the_rest_of_the_data_dir_and_links_out_are_refused(
    warehouse: Settings, tmp_path: Path
) -> None:
    users = warehouse.data_dir / "ui" / "users.json"
    users.parent.mkdir()
    users.write_text(json.dumps({"users": {"ana": {"password": "scrypt$00$00"}}}))
    refused = await _ingest(warehouse, users, confirm=False)
    assert refused.isError and "outside the folders" in refused.content[0].text

    outside = tmp_path / "secret.csv"
    outside.write_text(ROW.format(id="LINK1"))
    uploads = warehouse.data_dir / "uploads" / "drop"
    uploads.mkdir(parents=True)
    (uploads / "artists.csv").symlink_to(outside)
    for path in (uploads / "artists.csv", uploads):  # the link itself, or its folder
        result = await _ingest(warehouse, path)
        assert result.isError, path
    assert not _loaded(warehouse, "LINK1")
