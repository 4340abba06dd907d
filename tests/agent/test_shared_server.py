"""Agents of one role share an MCP server; the audit log still names each user."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from typing import Any

from agent.build import live_mcp_clients
from agent.memory.local import LocalMemory
from agent.service import AgentService
from core.settings import Settings
from tests.agent.conftest import agent_settings
from tests.agent.scripted import ScriptedModel

SQL = "SELECT name FROM artists ORDER BY name LIMIT 3"


def _service(settings: Settings, memory: LocalMemory, user: str) -> AgentService:
    return AgentService.create(
        settings,
        user=user,
        role="analyst",
        model=ScriptedModel([("run_sql", {"sql": SQL}), "done"]),
        memory=memory,
        agent_settings=agent_settings(),
    )


def test_two_users_on_one_server_are_audited_apart(
    small_warehouse: Settings, agent_mcp: Any, memory: LocalMemory
) -> None:
    agent_mcp.list_tools_sync()  # the role's server is up
    running = live_mcp_clients()
    starts = agent_mcp.starts
    services = [_service(small_warehouse, memory, user) for user in ("maya", "theo")]

    async def both() -> list[Any]:
        return await asyncio.gather(*(s.ask("list some artists") for s in services))

    results = asyncio.run(both())
    assert [r.tool_calls[0].output["row_count"] for r in results] == [3, 3]
    # no server started for them: the role's server answered both
    assert agent_mcp.starts == starts and set(live_mcp_clients()) == set(running)
    with closing(sqlite3.connect(small_warehouse.data_dir / "audit.sqlite")) as con:
        audited = {
            user
            for (user,) in con.execute(
                "SELECT user FROM query_audit WHERE sql = ? ORDER BY id DESC LIMIT 2", [SQL]
            )
        }
    assert audited == {"maya", "theo"}
