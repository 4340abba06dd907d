"""The agent benchmark stops only the MCP servers it started, not those of other sessions."""

from __future__ import annotations

import pytest

from agent import bench
from agent.build import close_mcp_clients, live_mcp_clients, mcp_client
from core.settings import Settings
from tests.agent.conftest import WAREHOUSE_MCP_COMMAND, agent_settings
from tests.agent.scripted import ScriptedModel


def _plan(messages: list[dict[str, object]], system_prompt: str | None) -> object:
    if any("toolResult" in block for block in messages[-1]["content"]):  # type: ignore[attr-defined]
        return "done"
    return ("semantic_query", {"measures": ["tickets_sold"], "dimensions": ["state"]})


def test_the_bench_leaves_another_sessions_mcp_server_running(
    small_warehouse: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench, "USERS", 1)  # one bench server is enough to tell
    # a chat session's server, up before the bench (another role: a server of its own even
    # where a role's users share one)
    chat = mcp_client(small_warehouse, user="chat-user", role="partner",
                      command=WAREHOUSE_MCP_COMMAND)  # fmt: skip
    try:
        chat.list_tools_sync()
        assert chat.running() and chat.starts == 1
        before = {id(c) for c in live_mcp_clients()}
        figures = bench.bench_agent(
            small_warehouse,
            rounds=1,
            model=ScriptedModel(plan=_plan),
            agent_settings=agent_settings(mcp_command=WAREHOUSE_MCP_COMMAND),
            questions=bench.QUESTIONS[:1],
        )
        assert figures["turns"] == 1 and figures["turns_with_tool_errors"] == 0
        # the chat session's server was neither stopped nor restarted; the bench's is gone
        assert chat.running() and chat.starts == 1
        assert {id(c) for c in live_mcp_clients()} == before
    finally:
        close_mcp_clients(users={"chat-user"})
    assert not chat.running()
