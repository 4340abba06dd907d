"""Plans for single messages: every call a plan makes, each tool answering canned data."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from agent.planner import OfflinePlanner

TODAY = date(2026, 11, 1)
VOCAB = {
    "artists": ["Elizabeth Vargas", "Kwame Herrera & the Panthers"],
    "venues": ["Satin Club", "The Compass Room"],
    "cities": ["New York", "Chicago"],
    "states": ["NY", "CA", "TX"],
    "genres": ["rock", "jazz"],
    "venue_types": ["club"],
}
TOOLS = [
    "semantic_query",
    "run_sql",
    "venue_ranking",
    "predict_ticket_sales",
    "predict_concerts",
    "recommend_concerts",
    "similar_artists",
    "venues_for_artist",
    "artist_profile",
    "upcoming_concerts",
    "make_chart",
    "lookup_source",
    "recall_memory",
    "remember_preference",
    "forget_memory",
    "model_metrics",
    "run_status",
    "quality_report",
    "start_pipeline_run",
]
CANNED = {"columns": ["x", "y"], "rows": [["a", 1], ["b", 2]], "items": [{"concert_id": "C1"}]}


def plan_of(text: str, tools: list[str] = TOOLS) -> tuple[list[tuple[str, dict[str, Any]]], str]:
    """Every call the planner makes for `text` (each answered with CANNED), and its answer."""
    model = OfflinePlanner(vocabulary=lambda kind: VOCAB[kind], today=TODAY)
    specs: Any = [{"name": n, "description": "", "inputSchema": {"json": {}}} for n in tools]
    messages: Any = [{"role": "user", "content": [{"text": text}]}]
    calls: list[tuple[str, dict[str, Any]]] = []
    for i in range(8):
        call, answer = model.respond(messages, specs, "USER_PREFERENCES: {}")
        if call is None:
            return calls, answer
        calls.append((call["name"], call["input"]))
        use = {"toolUseId": str(i), "name": call["name"], "input": call["input"]}
        result = {"toolUseId": str(i), "status": "success", "content": [{"json": CANNED}]}
        messages += [{"role": "assistant", "content": [{"toolUse": use}]},
                     {"role": "user", "content": [{"toolResult": result}]}]  # fmt: skip
    raise AssertionError("the plan did not end")


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Chart monthly tickets sold in 2024", ["semantic_query", "make_chart"]),
        ("Show a map of venues in California", ["venue_ranking", "make_chart"]),
        ("Which artists are similar to Elizabeth Vargas?", ["similar_artists"]),
        ("what do you know about kwame herrera & the panthers?", ["artist_profile"]),
        ("How accurate are your prediction models?", ["model_metrics"]),
        ("What is the status of the latest pipeline runs?", ["run_status"]),
        ("Run the data pipelines now", ["start_pipeline_run"]),
        ("Which upcoming concerts at Satin Club are likely to sell out?",
         ["upcoming_concerts", "predict_concerts"]),
        ("I live in Chicago and love jazz. What should I see?",
         ["remember_preference", "remember_preference", "recommend_concerts"]),
    ],
)  # fmt: skip
def test_plans(text: str, names: list[str]) -> None:
    calls, _ = plan_of(text)
    assert [name for name, _ in calls] == names


@pytest.mark.parametrize(
    "text",
    ["Wipe the warehouse and start over", "Change every ticket price to zero"],
)
def test_writes_are_refused_without_a_tool_call(text: str) -> None:
    calls, answer = plan_of(text)
    assert calls == [] and "I can only read" in answer


@pytest.mark.parametrize(
    "text", ["What stocks should I buy?", "Summarise the plot of Hamlet", "Order me a pizza"]
)
def test_out_of_scope(text: str) -> None:
    calls, answer = plan_of(text)
    assert calls == [] and answer.startswith("I can't answer that yet")


def test_missing_tool_is_skipped_and_said() -> None:
    calls, answer = plan_of("Chart monthly tickets sold in 2024", ["semantic_query"])
    assert [name for name, _ in calls] == ["semantic_query"]
    assert "make chart tool isn't available" in answer


def test_structured_output_and_config() -> None:
    import asyncio

    from pydantic import BaseModel

    class Ask(BaseModel):
        intent: str
        artist: str | None = None
        genres: list[str] = []

    async def first() -> Any:
        model = OfflinePlanner(vocabulary=lambda kind: VOCAB[kind], today=TODAY)
        prompt: Any = [{"role": "user", "content": [{"text": "Tell me about Elizabeth Vargas"}]}]
        events = [event async for event in model.structured_output(Ask, prompt)]
        return events[-1]["output"]

    out = asyncio.run(first())
    assert out == Ask(intent="artist_profile", artist="Elizabeth Vargas", genres=[])
    model = OfflinePlanner()
    model.update_config(model_id="offline-test")
    assert model.get_config()["model_id"] == "offline-test"


def test_a_question_about_change_is_not_a_write() -> None:
    calls, _ = plan_of("How did ticket sales change by year?")
    assert calls and calls[0][0] == "semantic_query"


def test_new_york_is_the_state_in_totals_and_the_city_for_venues() -> None:
    calls, _ = plan_of("How many tickets were sold in New York in 2024?")
    assert calls[0][1]["filters"] == [{"field": "state", "op": "=", "value": "NY"}]
    calls, _ = plan_of("What are the best venues in New York?")
    assert calls[0][1]["city"] == "New York"
