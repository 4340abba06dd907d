"""The agent benchmark reports warm percentiles and a cold start over its question set.

The bench starts one MCP server per bench user (five) plus the cold one; here two users are
enough to rotate turns over servers (each start is seconds on two cores), and the warehouse-only
server has the one tool the scripted plan calls and starts in about half the time of `all`.
"""

from __future__ import annotations

import pytest

from agent import bench
from agent.bench import QUESTIONS, bench_agent
from core.settings import Settings
from tests.agent.conftest import WAREHOUSE_MCP_COMMAND, agent_settings
from tests.agent.scripted import ScriptedModel


def test_bench_reports_latency_figures(
    small_warehouse: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench, "USERS", 2)

    def plan(messages: list[dict[str, object]], system_prompt: str | None) -> object:
        last = messages[-1]["content"]
        if any("toolResult" in block for block in last):  # type: ignore[attr-defined]
            return "done"
        return ("semantic_query", {"measures": ["tickets_sold"], "dimensions": ["state"]})

    figures = bench_agent(
        small_warehouse,
        rounds=2,
        model=ScriptedModel(plan=plan),
        agent_settings=agent_settings(mcp_command=WAREHOUSE_MCP_COMMAND),
        questions=QUESTIONS[:3],
    )
    assert figures["turns"] == 6 and figures["questions"] == 3
    assert figures["mean_tool_calls"] == 1.0 and figures["turns_with_tool_errors"] == 0
    assert 0 < figures["p50_ms"] <= figures["p95_ms"] <= figures["max_ms"]
    assert figures["cold_start_ms"] > 0
