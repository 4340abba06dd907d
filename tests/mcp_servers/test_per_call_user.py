"""A server started for the agent takes each call's user from `_meta`; any other ignores it."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from contextlib import closing

import pytest
from mcp.shared.memory import create_connected_server_and_client_session

from core.settings import Settings
from mcp_servers import build_server
from tests.mcp_servers.conftest import server_env
from tools.context import CALL_USER_META

SQL = "SELECT name FROM artists ORDER BY name LIMIT 2"


def _audited_users(settings: Settings) -> list[str]:
    with closing(sqlite3.connect(settings.data_dir / "audit.sqlite")) as con:
        return [user for (user,) in con.execute("SELECT user FROM query_audit ORDER BY id")]


async def _run_sql_as(settings: Settings, per_call_user: bool, *users: str | None) -> list[bool]:
    """run_sql once per user named in `_meta` (None: no `_meta`); whether each call failed."""
    server = build_server("warehouse", settings, user="agent", per_call_user=per_call_user)
    failed = []
    async with create_connected_server_and_client_session(server._mcp_server) as client:
        for user in users:
            meta = None if user is None else {CALL_USER_META: user}
            result = await client.call_tool("run_sql", {"sql": SQL}, meta=meta)
            failed.append(result.isError)
    return failed


@pytest.mark.asyncio
async def test_a_shared_server_audits_each_call_under_the_user_it_names(
    small_warehouse: Settings,
) -> None:
    before = (
        len(_audited_users(small_warehouse))
        if (small_warehouse.data_dir / "audit.sqlite").exists()
        else 0
    )
    failed = await _run_sql_as(small_warehouse, True, "ana@example.com", "bo", None)
    assert failed == [False, False, False]
    assert _audited_users(small_warehouse)[before:] == ["ana@example.com", "bo", "agent"]


@pytest.mark.asyncio
async def test_a_server_not_started_so_ignores_the_named_user(small_warehouse: Settings) -> None:
    before = (
        len(_audited_users(small_warehouse))
        if (small_warehouse.data_dir / "audit.sqlite").exists()
        else 0
    )
    assert await _run_sql_as(small_warehouse, False, "admin") == [False]
    assert _audited_users(small_warehouse)[before:] == ["agent"]  # not "admin"


@pytest.mark.asyncio
async def test_a_named_user_that_is_no_user_id_is_refused(small_warehouse: Settings) -> None:
    assert await _run_sql_as(small_warehouse, True, "bo'; DROP TABLE x", "") == [True, True]


def test_encore_mcp_refuses_a_per_call_user_over_http(small_warehouse: Settings) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mcp_servers", "all", "--transport", "http", "--per-call-user"],
        env=server_env(small_warehouse),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "only a stdio server" in done.stderr
