"""Issue 6 demo conversations through a real strands Agent over the real tool functions (the same
functions the MCP servers register) on a trained copy of the small warehouse."""

from __future__ import annotations

import inspect
import os
import typing
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter
from strands import Agent, tool

from agent.memory.local import LocalMemory
from agent.memory.tools import memory_tools
from agent.planner import OfflinePlanner
from core.settings import Settings
from core.warehouse import reading
from tools.charts.build import make_chart
from tools.context import ToolContext
from tools.insights.forecast import predict_concerts, predict_ticket_sales
from tools.insights.profile import artist_profile, upcoming_concerts
from tools.insights.ranking import venue_ranking
from tools.insights.recommend import recommend_concerts
from tools.query.runner import run_sql
from tools.query.semantic import semantic_query

os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
TODAY = date(2026, 11, 1)
TOOLS: tuple[Callable[..., BaseModel], ...] = (
    semantic_query,
    venue_ranking,
    upcoming_concerts,
    artist_profile,
    recommend_concerts,
    predict_concerts,
    make_chart,
    run_sql,
    predict_ticket_sales,
)


def query_warehouse(settings: Settings, sql: str) -> list[dict[str, Any]]:
    with reading(settings) as con:
        cursor = con.execute(sql)
        cols = [d[0] for d in cursor.description]
        return [dict(zip(cols, row, strict=True)) for row in cursor.fetchall()]


def as_tool(fn: Callable[..., BaseModel], ctx: ToolContext) -> Any:
    """A tool function as a strands tool: `ctx` bound, the result as JSON text (as over MCP)."""
    hints = typing.get_type_hints(fn)
    signature = inspect.signature(fn)
    params = [
        p.replace(annotation=hints.get(p.name, p.annotation))
        for p in list(signature.parameters.values())[1:]
    ]

    adapters = {p.name: TypeAdapter(p.annotation) for p in params}

    def call(**kwargs: Any) -> str:
        # arguments arrive as JSON values; the function takes its own types (e.g. a Table)
        typed = {k: adapters[k].validate_python(v) for k, v in kwargs.items()}
        return fn(ctx, **typed).model_dump_json()

    call.__name__, call.__doc__ = fn.__name__, fn.__doc__
    call.__signature__ = signature.replace(parameters=params, return_annotation=str)  # type: ignore[attr-defined]
    call.__annotations__ = {p.name: p.annotation for p in params} | {"return": str}
    return tool(call)


@tool
def lookup_source(source: str, query: str, kind: str = "artist") -> dict[str, Any]:
    """External lookup (a stand-in: the tests make no network calls)."""
    return {"source": source, "reachable": False, "message": "no network", "items": []}


def make_agent(
    settings: Settings,
    vocab: Any,
    tmp_path: Path,
    count: int | None = None,
    *,
    memory: LocalMemory | None = None,
    system_prompt: str | None = None,
) -> Agent:
    """An agent over every tool (or the first `count`); memory tools for user "demo"."""
    ctx = ToolContext(settings)
    tools = [as_tool(fn, ctx) for fn in TOOLS]
    memory = memory or LocalMemory(tmp_path / "memory")
    tools += [lookup_source, *memory_tools(memory, "demo")]
    model = OfflinePlanner(vocabulary=vocab, today=TODAY)
    return Agent(
        model=model, tools=tools[:count], callback_handler=None, system_prompt=system_prompt
    )


def run(agent: Agent, text: str) -> tuple[str, list[dict[str, Any]]]:
    """The answer to `text` and the tool calls (name, input, output) made for it."""
    start = len(agent.messages)
    answer = str(agent(text))
    calls: list[dict[str, Any]] = []
    for message in agent.messages[start:]:
        for block in message["content"]:
            if "toolUse" in block:
                use = block["toolUse"]
                calls.append({"name": use["name"], "input": use["input"]})
            elif "toolResult" in block:
                calls[-1]["status"] = block["toolResult"]["status"]
    return answer, calls


def test_artist_conversation(trained: Settings, vocab: Any, tmp_path: Path) -> None:
    agent = make_agent(trained, vocab, tmp_path)
    answer, calls = run(agent, "Tell me about Elizabeth Vargas")
    assert [c["name"] for c in calls] == ["artist_profile"]
    facts = query_warehouse(
        trained,
        "SELECT sum(tickets_sold) AS t FROM concert_performance p "
        "JOIN artists a USING (artist_id) WHERE a.name='Elizabeth Vargas' AND status='completed'",
    )
    assert f"{facts[0]['t']:,}" in answer
    answer, calls = run(agent, "What venues have they performed at?")
    assert calls[0]["name"] == "semantic_query" and calls[0]["status"] == "success"
    assert {"field": "artist", "op": "=", "value": "Elizabeth Vargas"} in calls[0]["input"][
        "filters"
    ]
    assert "```sql" in answer
    answer, calls = run(agent, "How popular are they compared to other pop artists?")
    assert calls[-1]["input"]["filters"] == [{"field": "genre", "op": "=", "value": "pop"}]
    assert "Elizabeth Vargas ranks #" in answer


def test_venue_conversation(trained: Settings, vocab: Any, tmp_path: Path) -> None:
    agent = make_agent(trained, vocab, tmp_path)
    answer, calls = run(agent, "What are the best venues in New York for rock concerts?")
    assert calls[0]["name"] == "venue_ranking" and calls[0]["status"] == "success"
    assert calls[0]["input"]["city"] == "New York" and calls[0]["input"]["genre"] == "rock"
    best = venue_ranking(ToolContext(trained), city="New York", genre="rock").rows[0]
    assert best.venue in answer.splitlines()[0]  # the answer opens with the best venue
    answer, calls = run(agent, "Which venue would be best for a mid-sized indie band?")
    assert calls[0]["name"] == "venue_ranking"
    assert calls[0]["input"]["capacity_band"] == "medium" and calls[0]["input"]["genre"] == "indie"
    answer, calls = run(agent, "Show me upcoming concerts at The Compass Room")
    assert (
        calls[0]["name"] == "upcoming_concerts" and calls[0]["input"]["venue"] == "The Compass Room"
    )
    assert "The Compass Room" in answer


def test_recommendation_conversation(trained: Settings, vocab: Any, tmp_path: Path) -> None:
    agent = make_agent(trained, vocab, tmp_path)
    answer, calls = run(agent, "I like rock and alternative music. What concerts should I attend?")
    names = [c["name"] for c in calls]
    assert names == ["remember_preference", "recommend_concerts"]
    assert calls[0]["input"] == {"kind": "genres", "value": "rock, alternative"}
    assert set(calls[-1]["input"]["genres"]) == {"rock", "alternative"}
    assert calls[-1]["status"] == "success" and "results; first:" in answer
    answer, calls = run(agent, "What about something in the next month?")
    assert calls[0]["name"] == "recommend_concerts"
    assert (
        calls[0]["input"]["date_from"] == "2026-11-01"
        and calls[0]["input"]["date_to"] == "2026-12-01"
    )
    answer, calls = run(agent, "Which of these concerts are likely to sell out?")
    assert calls[0]["name"] == "predict_concerts" and calls[0]["input"]["concert_ids"]
    assert calls[0]["status"] == "success"
    assert "likely to sell out" in answer and "confidence" in answer


def test_trend_conversation(trained: Settings, vocab: Any, tmp_path: Path) -> None:
    agent = make_agent(trained, vocab, tmp_path)
    answer, calls = run(agent, "Show me the trend of concert attendance over the past year")
    assert [c["name"] for c in calls] == ["semantic_query", "make_chart"]
    assert all(c["status"] == "success" for c in calls)
    assert calls[0]["input"]["dimensions"] == ["month"]
    assert calls[0]["input"]["time_range"] == {"start": "2025-11-01", "end": "2026-11-01"}
    answer, calls = run(agent, "Which genres are most popular?")
    assert calls[0]["input"]["dimensions"] == ["genre"]
    top = query_warehouse(  # tickets as the semantic layer counts them: every concert's result
        trained,
        "SELECT a.genre, sum(tickets_sold) t FROM concert_performance p "
        "JOIN artists a USING (artist_id) GROUP BY 1 ORDER BY 2 DESC LIMIT 1",
    )
    assert f"{top[0]['t']:,}" in answer
    answer, calls = run(agent, "Compare ticket sales between venues in California")
    assert calls[0]["input"]["dimensions"] == ["venue"]
    assert {"field": "state", "op": "=", "value": "CA"} in calls[0]["input"]["filters"]
    answer, calls = run(agent, "only in Texas")
    assert {"field": "state", "op": "=", "value": "TX"} in calls[0]["input"]["filters"]
    answer, calls = run(agent, "and the top 3?")
    assert calls[0]["input"]["limit"] == 3 and "3 rows" in answer


def test_external_conversation(trained: Settings, vocab: Any, tmp_path: Path) -> None:
    agent = make_agent(trained, vocab, tmp_path)
    answer, calls = run(agent, "Get me the latest information about James Henry from Spotify")
    assert calls[0]["input"] == {"source": "spotify", "query": "James Henry", "kind": "artist"}
    assert "can't be reached" in answer
    answer, calls = run(agent, "Are there any upcoming James Henry concerts on Ticketmaster?")
    assert calls[0]["input"]["source"] == "ticketmaster" and calls[0]["input"]["kind"] == "events"
    answer, calls = run(agent, "How does their current popularity compare to our historical data?")
    assert [c["name"] for c in calls] == ["lookup_source", "artist_profile"]
    assert "James Henry" in answer and "tickets sold" in answer


def test_out_of_scope_and_missing_tool(trained: Settings, vocab: Any, tmp_path: Path) -> None:
    agent = make_agent(trained, vocab, tmp_path, count=1)
    assert "I can't answer that yet" in str(agent("Write a limerick about cats"))
    start = len(agent.messages)
    answer = str(agent("What are the best venues in New York?"))
    assert "isn't available" in answer
    assert not any("toolUse" in b for m in agent.messages[start:] for b in m["content"])
