"""AgentService over the real MCP server: events, tool results, SQL, tables, charts, errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from agent.service import (
    AgentService,
    TextDelta,
    ToolFinished,
    ToolStarted,
    TurnDone,
    TurnResult,
)
from tests.agent.scripted import ScriptedModel

QUERY = {"measures": ["tickets_sold"], "dimensions": ["genre"], "limit": 5}


async def test_a_turn_streams_tool_events_and_collects_sql_and_tables(
    make_service: Callable[..., AgentService],
) -> None:
    model = ScriptedModel([("semantic_query", QUERY), "Rock sold the most tickets."])
    service = make_service(model, user="ana")
    events = [e async for e in service.stream("which genres sell most?")]
    kinds = [type(e) for e in events]
    assert kinds.index(ToolStarted) < kinds.index(ToolFinished) < kinds.index(TurnDone)
    assert any(isinstance(e, TextDelta) for e in events)
    done = events[-1]
    assert isinstance(done, TurnDone)
    result = done.result
    assert result.answer == "Rock sold the most tickets."
    assert [c.name for c in result.tool_calls] == ["semantic_query"]
    assert result.tool_calls[0].error is None
    assert len(result.sql) == 1 and "tickets_sold" in result.sql[0]
    assert result.tables[0].columns[0] == "genre"
    assert 0 < len(result.tables[0].rows) <= 5
    assert result.session == service.session
    await service.aclose()


async def test_a_failing_tool_does_not_crash_the_turn(
    make_service: Callable[..., AgentService],
) -> None:
    model = ScriptedModel([("run_sql", {"sql": "DELETE FROM artists"}), "I cannot do that."])
    result = await make_service(model).ask("delete all artists")
    assert result.answer == "I cannot do that."
    call = result.tool_calls[0]
    assert call.name == "run_sql" and call.error
    assert result.sql == [] and result.tables == []


async def test_charts_come_from_tool_results(make_service: Callable[..., AgentService]) -> None:
    table = {"columns": ["genre", "tickets"], "rows": [["rock", 10], ["jazz", 4]]}
    model = ScriptedModel(
        [("make_chart", {"kind": "bar", "table": table, "x": "genre", "y": "tickets"}), "Here."]
    )
    result = await make_service(model).ask("chart it")
    assert result.tool_calls[0].error is None, result.tool_calls[0].output
    assert len(result.charts) == 1 and result.charts[0]["kind"] == "bar"
    assert "data" in result.charts[0]["plotly"]


async def test_memory_tools_and_stated_preferences_reach_the_prompt(
    make_service: Callable[..., AgentService],
) -> None:
    model = ScriptedModel(["Noted.", ("recall_memory", {}), "You like jazz.",
                           ("forget_memory", {"what": "budget"}), "Forgotten."])  # fmt: skip
    service = make_service(model, user="bo")
    await service.ask("I live in Chicago, I love jazz and my budget is $80")
    assert service.preferences() == {"city": "Chicago", "genres": ["jazz"], "budget": 80.0}
    assert (
        'USER_PREFERENCES: {"budget": 80.0, "city": "Chicago", "genres": ["jazz"]}'
        in (model.calls[0]["system_prompt"])
    )
    recalled = await service.ask("what do you remember about me?")
    output: Any = recalled.tool_calls[0].output
    assert output["preferences"]["city"] == "Chicago"
    await service.ask("forget my budget")
    assert "budget" not in service.preferences()
    # a new session of the same user starts with the preferences
    later = ScriptedModel(["Hi again."])
    await make_service(later, user="bo").ask("hello")
    assert '"city": "Chicago"' in later.calls[0]["system_prompt"]


async def test_user_b_never_sees_user_a(make_service: Callable[..., AgentService]) -> None:
    a = make_service(ScriptedModel(["ok"]), user="a")
    await a.ask("I love metal")
    b_model = ScriptedModel([("recall_memory", {}), "Nothing yet."])
    b = make_service(b_model, user="b")
    result = await b.ask("what do you remember about me?")
    assert result.tool_calls[0].output["empty"] is True
    assert "metal" not in (b_model.calls[0]["system_prompt"] or "")


async def test_a_resumed_session_replays_its_turns(
    make_service: Callable[..., AgentService],
) -> None:
    first = make_service(ScriptedModel(["Answer one."]), user="c", session="s-1")
    await first.ask("question one")
    model = ScriptedModel(["Answer two."])
    await make_service(model, user="c", session="s-1").ask("question two")
    texts = [m["content"][0].get("text") for m in model.calls[0]["messages"]]
    assert texts[:2] == ["question one", "Answer one."]


async def test_a_resumed_session_answers_a_follow_up_to_its_last_turn(
    make_service: Callable[..., AgentService],
) -> None:
    """The tool calls behind an answer are kept with the session, so a service built later
    (another process, a restarted UI) can answer "what about 2024?" as the first one would."""
    first = make_service(None, user="fu", session="s-fu")
    asked = await first.ask("Which genres sold the most tickets?")
    [query] = [c for c in asked.tool_calls if c.name == "semantic_query"]
    resumed = make_service(None, user="fu", session="s-fu")
    result = await resumed.ask("what about 2024?")
    [call] = [c for c in result.tool_calls if c.name == "semantic_query"]
    assert call.input["dimensions"] == query.input["dimensions"]
    assert "2024" in json.dumps(call.input), call.input
    assert result.tables and result.tables[0].columns[0] == "genre"


class BrokenMemory:
    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise OSError("disk on fire")

        return fail


async def test_the_agent_answers_when_memory_fails(
    make_service: Callable[..., AgentService],
) -> None:
    from agent.memory.failsoft import FailSoftMemory

    memory = FailSoftMemory(BrokenMemory())  # type: ignore[arg-type]
    model = ScriptedModel([("semantic_query", QUERY), "Still here."])
    result: TurnResult = await make_service(model, memory=memory, session="x").ask(
        "I love jazz. Which genres sell most?"
    )
    assert result.answer == "Still here." and result.tables
    assert memory.failed
    assert "USER_PREFERENCES: {}" in (model.calls[0]["system_prompt"] or "")


async def test_the_offline_planner_is_the_default_model(
    make_service: Callable[..., AgentService],
) -> None:
    service = make_service(None, user="dee")
    result = await service.ask("Which genres sold the most tickets?")
    assert "semantic_query" in [c.name for c in result.tool_calls]
    assert result.tables and result.tables[0].columns[0] == "genre"
    top_genre = result.tables[0].rows[0][0]
    assert top_genre in result.answer


class _CountedValue:
    """A value that counts how often it is turned into text (json's `default=str`)."""

    def __init__(self) -> None:
        self.serialised = 0

    def __str__(self) -> str:
        self.serialised += 1
        return "v" * 1000


def test_a_turns_tool_outputs_are_serialised_once_when_stored() -> None:
    from agent.service import ToolCallRecord, _stored_calls

    values = [_CountedValue() for _ in range(3)]
    big = {"rows": [[i, "x" * 200] for i in range(600)]}  # past the stored-output limit
    calls = [
        ToolCallRecord(name="semantic_query", input={"limit": 3}, output={"rows": values}),
        ToolCallRecord(name="make_chart", input={}, output=big, error=None),
        ToolCallRecord(name="run_sql", input={"sql": "x"}, output="refused", error="refused"),
    ]
    stored = json.loads(_stored_calls(calls))
    assert [v.serialised for v in values] == [1, 1, 1]
    assert stored == [
        {"name": "semantic_query", "input": {"limit": 3}, "output": {"rows": ["v" * 1000] * 3},
         "error": None},
        {"name": "make_chart", "input": {}, "output": None, "error": None},
        {"name": "run_sql", "input": {"sql": "x"}, "output": "refused", "error": "refused"},
    ]  # fmt: skip
