"""Agent latency benchmark: question to answer with the tools it calls, offline by default.

Cold start (first service of the process: MCP server start-up, vocabularies, first turn) is
reported apart from the warm p50/p95, where each question runs in a fresh session of a process
whose MCP client is already up - what a new chat session costs. Turns rotate over `USERS` users
(who share the role's MCP server unless ENCORE_MCP_SHARE=false), so one untimed pass over the
questions first brings every server and planner up (vocabularies, models and chart libraries
loaded on first use); otherwise a few "warm" turns would carry a server's start-up and set the
p95.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from strands.models import Model

from agent.build import close_mcp_clients
from agent.config import AgentSettings
from agent.service import AgentService
from core.settings import Settings

USERS = 5
QUESTIONS: tuple[str, ...] = (
    "Which genres sold the most tickets last year?",
    "What are the best venues in New York for rock concerts?",
    "Show me the trend of concert attendance over the past year",
    "Compare ticket sales between venues in California",
    "Which artists had the highest gross revenue in 2025?",
    "How many concerts sold out in Texas?",
    "What is the average ticket price by venue type?",
    "I like rock and alternative music. What concerts should I attend?",
    "Show me upcoming concerts in Chicago",
    "Which states sold the most tickets?",
)


def _user(i: int) -> str:
    return f"bench-{i % USERS}"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def _run(
    settings: Settings,
    agent_settings: AgentSettings,
    model: str | Model | None,
    rounds: int,
    questions: tuple[str, ...],
) -> dict[str, Any]:
    async def turn(question: str, i: int) -> tuple[float, int, bool]:
        service = AgentService.create(
            settings,
            user=_user(i),
            role=agent_settings.role,
            model=model,
            agent_settings=agent_settings,
        )
        t0 = time.perf_counter()
        result = await service.ask(question)
        elapsed = (time.perf_counter() - t0) * 1000
        await service.aclose()
        return elapsed, len(result.tool_calls), any(c.error for c in result.tool_calls)

    t0 = time.perf_counter()
    await turn(questions[0], 0)
    cold_ms = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    for i in range(max(USERS, len(questions))):  # untimed: every user's server and planner up
        await turn(questions[i % len(questions)], i)
    warmup_ms = (time.perf_counter() - t0) * 1000
    latencies: list[float] = []
    tool_calls = errors = 0
    for r in range(rounds):
        for i, question in enumerate(questions):
            ms, calls, failed = await turn(question, r * len(questions) + i)
            latencies.append(ms)
            tool_calls += calls
            errors += failed
    return {
        "model": model if isinstance(model, str) else type(model).__name__,
        "questions": len(questions),
        "turns": len(latencies),
        "cold_start_ms": round(cold_ms, 1),
        "warmup_ms": round(warmup_ms, 1),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(_percentile(latencies, 0.95), 1),
        "max_ms": round(max(latencies), 1),
        "mean_tool_calls": round(tool_calls / len(latencies), 2),
        "turns_with_tool_errors": errors,
        "target_p95_ms": 1000,
        "meets_target": _percentile(latencies, 0.95) < 1000,
    }


def bench_agent(
    settings: Settings,
    *,
    rounds: int = 3,
    model: str | Model | None = None,
    agent_settings: AgentSettings | None = None,
    questions: tuple[str, ...] = QUESTIONS,
) -> dict[str, Any]:
    """Latency figures of the agent over `questions` (`rounds` warm passes after a cold turn)."""
    agent_settings = agent_settings or AgentSettings()
    model = model or agent_settings.model
    # only the bench users' clients: other sessions of the process (a chat UI's) keep theirs
    users = {_user(i) for i in range(USERS)}
    close_mcp_clients(users=users)  # a true cold start: no bench server left from a past run
    try:
        return asyncio.run(_run(settings, agent_settings, model, rounds, questions))
    finally:
        close_mcp_clients(users=users)
