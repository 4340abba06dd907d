"""Drive the agent through every case and score each turn against the warehouse it answers from."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
from strands.models import Model

from core.settings import Settings
from core.warehouse import reading
from evals import scorers
from evals.cases import Case, Turn, load_cases, one_per_template

ASPECTS = ("execution", "tool_selection", "key_facts", "refusal", "chart")


@dataclass
class TurnScore:
    """How one turn did on each aspect it tests (None: not tested)."""

    ask: str
    scores: dict[str, bool | None]
    latency_ms: float
    answer: str
    tools: list[str]
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and all(s is not False for s in self.scores.values())


@dataclass
class CaseScore:
    case: Case
    turns: list[TurnScore] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(t.passed for t in self.turns)


@dataclass
class EvalRun:
    """Scores of every case and the summary the gate checks."""

    model: str
    cases: list[CaseScore]
    seconds: float

    def summary(self) -> dict[str, Any]:
        turns = [t for c in self.cases for t in c.turns]
        out: dict[str, Any] = {"model": self.model, "cases": len(self.cases), "turns": len(turns)}
        for aspect in ASPECTS:
            tested = [t.scores[aspect] for t in turns if t.scores.get(aspect) is not None]
            out[f"{aspect}_n"] = len(tested)
            out[aspect] = round(sum(bool(s) for s in tested) / len(tested), 4) if tested else None
        out["case_pass_rate"] = round(sum(c.passed for c in self.cases) / len(self.cases), 4)
        latencies = np.array([t.latency_ms for t in turns]) if turns else np.zeros(1)
        out["latency_p50_ms"] = round(float(np.percentile(latencies, 50)), 1)
        out["latency_p95_ms"] = round(float(np.percentile(latencies, 95)), 1)
        out["errors"] = sum(t.error is not None for t in turns)
        out["seconds"] = round(self.seconds, 1)
        categories: dict[str, list[bool]] = {}
        for c in self.cases:
            categories.setdefault(c.case.category, []).append(c.passed)
        out["by_category"] = {k: round(sum(v) / len(v), 4) for k, v in sorted(categories.items())}
        return out


def _gold(con: duckdb.DuckDBPyConnection, sql: str | None) -> list[tuple[Any, ...]] | None:
    return None if sql is None else con.execute(sql).fetchall()


def _scalar(con: duckdb.DuckDBPyConnection, sql: str | None) -> Any:
    rows = _gold(con, sql)
    return rows[0][0] if rows else None


class _Services:
    """Agent services for the cases of one run, all on one MCP server started up front.

    Each case has a user of its own (memory, the audit log); the server is the role's shared
    one, which names each call's user (see `agent.build`).
    """

    def __init__(self, settings: Settings, model: str | Model) -> None:
        from agent.build import mcp_client, open_memory
        from agent.config import AgentSettings

        self.settings, self.model = settings, model
        self.agent_settings = AgentSettings()
        self.memory = open_memory(settings, self.agent_settings)
        self.client = mcp_client(
            settings,
            user="eval",
            role="analyst",
            url=self.agent_settings.mcp_url,
            command=self.agent_settings.mcp_command,
            timeout_s=self.agent_settings.mcp_startup_timeout_s,
            shared=True,
        )

    def create(self, user: str) -> Any:
        from agent.build import build_agent
        from agent.service import AgentService

        session = f"eval-{uuid.uuid4().hex[:12]}"
        agent = build_agent(
            self.settings,
            user=user,
            session=session,
            role="analyst",
            model=self.model,
            memory=self.memory,
            agent_settings=self.agent_settings,
            mcp=self.client,
        )
        return AgentService(agent, self.memory, user=user, session=session, role="analyst")


async def _run_case(services: _Services, gold: duckdb.DuckDBPyConnection, case: Case) -> CaseScore:
    user = case.user or f"eval-{uuid.uuid4().hex[:8]}"
    scored = CaseScore(case)
    service = None
    try:
        for index, turn in enumerate(case.turns):
            if service is None or (case.new_session_per_turn and index > 0):
                if service is not None:
                    await service.aclose()
                service = services.create(user)
            scored.turns.append(await _run_turn(gold, service, turn))
    finally:
        if service is not None:
            await service.aclose()
    return scored


async def _run_turn(gold: duckdb.DuckDBPyConnection, service: Any, turn: Turn) -> TurnScore:
    started = time.perf_counter()
    try:
        result = (await service.ask(turn.ask)).model_dump(mode="json")
        error = None
    except Exception as exc:  # an eval records a crash as a failed turn and goes on
        result, error = {"answer": "", "tool_calls": [], "tables": [], "charts": []}, repr(exc)
    latency = (time.perf_counter() - started) * 1000
    scores = {
        "execution": scorers.execution(turn, _gold(gold, turn.gold_sql), result),
        "tool_selection": scorers.tool_selection(turn, result),
        "key_facts": scorers.key_facts(turn, _scalar(gold, turn.facts_sql), result),
        "refusal": scorers.refusal(turn, result),
        "chart": scorers.chart(turn, result),
    }
    return TurnScore(
        ask=turn.ask,
        scores=scores,
        latency_ms=latency,
        answer=result.get("answer", ""),
        tools=[c["name"] for c in result.get("tool_calls", [])],
        error=error,
    )


async def run_eval(
    settings: Settings,
    *,
    model: str | Model = "offline",
    select: Callable[[Case], bool] | None = None,
    on_case: Callable[[CaseScore], None] | None = None,
    quick: bool = False,
) -> EvalRun:
    """Run the (selected) cases against the warehouse in `settings`; `quick`: one case per
    template (`one_per_template`)."""
    # one reader for the cases and every turn's gold answer (an open costs tens of ms); the run's
    # user is an analyst, so nothing writes the warehouse while the reader holds it
    with reading(settings) as gold:
        cases = load_cases(gold)
        if quick:
            cases = one_per_template(cases)
        if select:
            cases = [c for c in cases if select(c)]
        services = _Services(settings, model)
        for user in {c.user for c in cases if c.user}:
            services.memory.forget(user)  # what an earlier run told the memory cases' users
        started = time.perf_counter()
        results = []
        for case in cases:
            score = await _run_case(services, gold, case)
            results.append(score)
            if on_case:
                on_case(score)
    name = model if isinstance(model, str) else type(model).__name__
    return EvalRun(name, results, time.perf_counter() - started)
