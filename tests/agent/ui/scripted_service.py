"""A scripted stand-in for AgentService, for looking at the page alone.

No test needs it: the browser tests drive the real agent. `ENCORE_UI_TEST_AGENT=scripted` swaps
it in to tell a page fault from an agent fault: the login, trend, SQL, refusal, upload, resume
and element tests pass on it too; the demo conversations expect the real agent's answers. It
answers every question with one real query (tickets by year), so tables and charts are real data.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from core.settings import Settings
from core.warehouse import reading
from tools.results import Table


@dataclass
class TextDelta:
    text: str


@dataclass
class ToolStarted:
    tool_use_id: str
    name: str
    input: dict[str, Any]


@dataclass
class ToolFinished:
    tool_use_id: str
    name: str
    output: Any
    duration_ms: float
    error: str | None = None


@dataclass
class TurnResult:
    answer: str
    tool_calls: list[Any] = field(default_factory=list)
    sql: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[dict[str, Any]] = field(default_factory=list)
    latency_ms: float = 0.0
    session: str = ""


@dataclass
class TurnDone:
    result: TurnResult


_SQL = (
    "SELECT year(event_date) AS year, sum(tickets_sold) AS tickets FROM concert_performance "
    "GROUP BY 1 ORDER BY 1"
)


class ScriptedService:
    def __init__(self, settings: Settings, session: str) -> None:
        self.settings = settings
        self.session = session
        self.prefs: dict[str, Any] = {}

    async def stream(self, text: str) -> AsyncIterator[Any]:
        start = time.perf_counter()
        if "delete" in text.lower() or "drop" in text.lower():
            answer = "I can't do that: only read-only questions are allowed; nothing was changed."
            yield TextDelta(answer)
            yield TurnDone(TurnResult(answer=answer, session=self.session))
            return
        yield ToolStarted(
            "t1", "semantic_query", {"measures": ["tickets_sold"], "dimensions": ["year"]}
        )
        with reading(self.settings) as con:
            rows = con.execute(_SQL).fetchall()
        table = Table.from_rows(["year", "tickets"], rows)
        yield ToolFinished("t1", "semantic_query", {"rows": len(rows), "sql": _SQL}, 12.0)
        chart = {
            "data": [{"type": "bar", "x": [r[0] for r in rows], "y": [r[1] for r in rows]}],
            "layout": {"title": {"text": "Tickets by year"}},
        }
        answer = f"Tickets sold by year: {len(rows)} years."
        for word in answer.split(" "):
            yield TextDelta(word + " ")
        yield TurnDone(
            TurnResult(
                answer=answer,
                sql=[_SQL],
                tables=[table],
                charts=[chart],
                session=self.session,
                latency_ms=(time.perf_counter() - start) * 1000,
            )
        )

    def preferences(self) -> dict[str, Any]:
        return dict(self.prefs)

    def set_preference(self, kind: str, value: Any) -> None:
        self.prefs[kind] = value

    def forget(self, kind: str | None = None) -> None:
        if kind is None:
            self.prefs.clear()
        else:
            self.prefs.pop(kind, None)

    async def aclose(self) -> None:
        return None


def create(
    settings: Settings, *, user: str, session: str | None, role: str, model: str | None
) -> ScriptedService:
    return ScriptedService(settings, session or "s")
