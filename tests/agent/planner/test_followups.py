"""Follow-ups, preferences, memory, explicit SQL and tool errors through a real strands Agent."""

from __future__ import annotations

from typing import Any

from strands import Agent, tool

from agent.planner import OfflinePlanner
from core.errors import QueryRefusedError, ValidationError
from core.settings import Settings
from tests.agent.planner.test_demo_conversations import TODAY, make_tools, run
from tests.agent.planner.test_demo_conversations import vocab as vocab

PREFS = 'You are Encore.\nUSER_PREFERENCES: {"genres": ["jazz"], "city": "Chicago", "budget": 80}'


def extra_tools(log: list[dict[str, Any]]) -> list[Any]:
    """Catalog tools the demo set lacks: SQL, memory, single predictions, artist venues."""

    @tool
    def run_sql(sql: str) -> dict[str, Any]:
        """Run a read-only query."""
        log.append({"name": "run_sql", "input": {"sql": sql}})
        if not sql.lower().startswith("select"):
            raise QueryRefusedError("only SELECT is allowed; got DELETE", sql=sql)
        return {"columns": ["n"], "rows": [[1500]], "sql": sql, "row_count": 1}

    @tool
    def recall_memory() -> dict[str, Any]:
        """What is remembered about the user."""
        log.append({"name": "recall_memory", "input": {}})
        return {"preferences": {"genres": ["jazz"], "city": "Chicago", "budget": 80}}

    @tool
    def forget_memory(what: str | None = None) -> dict[str, Any]:
        """Forget preferences."""
        log.append({"name": "forget_memory", "input": {"what": what}})
        return {"forgotten": what or "all"}

    @tool
    def predict_ticket_sales(
        artist: str, venue: str, date: str, price: float | None = None
    ) -> dict[str, Any]:
        """Predict one concert."""
        log.append({"name": "predict_ticket_sales", "input": {"artist": artist, "venue": venue}})
        if artist.lower() == "nobody famous":
            raise ValidationError("unknown artist 'Nobody Famous'; did you mean: Billy Henry?")
        return {
            "artist": artist,
            "venue": venue,
            "date": date,
            "tickets_sold": 1130,
            "tickets_low": 950,
            "tickets_high": 1200,
            "gross": 61000.0,
            "gross_low": 50000.0,
            "gross_high": 70000.0,
            "sell_through": 0.94,
            "confidence": 0.81,
            "low_confidence": False,
            "likely_sell_out": True,
            "cold_start": False,
            "explanation": ["venue sells out 80% of pop shows"],
            "model_version": "v1",
        }

    return [run_sql, recall_memory, forget_memory, predict_ticket_sales]


def agent_for(
    settings: Settings, vocab: Any, system_prompt: str | None = None
) -> tuple[Agent, list[dict[str, Any]]]:
    tools, log = make_tools(settings)
    model = OfflinePlanner(vocabulary=vocab, today=TODAY)
    agent = Agent(
        model=model,
        tools=tools + extra_tools(log),
        callback_handler=None,
        system_prompt=system_prompt,
    )
    return agent, log


def test_time_state_limit_and_chart_follow_ups(small_warehouse: Settings, vocab: Any) -> None:
    agent, log = agent_for(small_warehouse, vocab)
    _, calls = run(agent, log, "How many tickets were sold by state in 2024?")
    first = calls[0]["input"]
    assert first["dimensions"] == ["state"]
    assert first["time_range"] == {"start": "2024-01-01", "end": "2024-12-31"}
    _, calls = run(agent, log, "what about 2023?")
    assert calls[0]["input"]["time_range"] == {"start": "2023-01-01", "end": "2023-12-31"}
    assert calls[0]["input"]["dimensions"] == ["state"]
    _, calls = run(agent, log, "and the top 10?")
    assert calls[0]["input"]["limit"] == 10
    assert calls[0]["input"]["time_range"]["start"] == "2023-01-01"
    answer, calls = run(agent, log, "chart that")
    assert calls == [
        {"name": "make_chart", "input": {"kind": "bar", "x": "state", "y": "tickets_sold"}}
    ]
    assert "bar chart" in answer


def test_preferences_from_system_prompt_and_message(small_warehouse: Settings, vocab: Any) -> None:
    agent, log = agent_for(small_warehouse, vocab, PREFS)
    _, calls = run(agent, log, "Recommend some rock concerts for me")
    args = calls[-1]["input"]
    assert calls[-1]["name"] == "recommend_concerts"
    assert args["genres"] == ["rock", "jazz"] and args["city"] == "Chicago" and args["budget"] == 80


def test_preference_statement_is_remembered(small_warehouse: Settings, vocab: Any) -> None:
    agent, log = agent_for(small_warehouse, vocab)
    answer, calls = run(agent, log, "My budget is $60")
    assert calls == [{"name": "remember_preference", "input": {"kind": "budget", "value": "60"}}]
    assert "budget" in answer


def test_memory_recall_and_forget(small_warehouse: Settings, vocab: Any) -> None:
    agent, log = agent_for(small_warehouse, vocab)
    answer, calls = run(agent, log, "What do you remember about me?")
    assert calls[0]["name"] == "recall_memory" and "Chicago" in answer
    _, calls = run(agent, log, "Forget my budget")
    assert calls == [{"name": "forget_memory", "input": {"what": "budget"}}]


def test_explicit_sql_and_refusal(small_warehouse: Settings, vocab: Any) -> None:
    agent, log = agent_for(small_warehouse, vocab)
    answer, calls = run(agent, log, "run sql: SELECT count(*) AS n FROM concerts")
    assert calls[0]["input"]["sql"] == "SELECT count(*) AS n FROM concerts"
    assert "1,500" in answer and "```sql" in answer
    answer, _ = run(agent, log, "DELETE FROM artists")
    assert "won't run" in answer and "only SELECT" in answer


def test_prediction_and_unknown_name(small_warehouse: Settings, vocab: Any) -> None:
    agent, log = agent_for(small_warehouse, vocab)
    answer, calls = run(
        agent, log, "How many tickets will Billy Henry sell at Satin Club on 2026-12-05?"
    )
    assert calls[0]["input"] == {"artist": "Billy Henry", "venue": "Satin Club"}
    assert (
        "1,130 tickets" in answer and "confidence 81%" in answer and "likely to sell out" in answer
    )
    assert "venue sells out 80%" in answer
    answer, _ = run(agent, log, "Show me their upcoming concerts")
    assert log[-1]["input"]["artist"] == "Billy Henry"
    answer, _ = run(agent, log, "Predict tickets for Nobody Famous at Satin Club")
    assert "couldn't find that name" in answer and "Billy Henry" in answer


def test_artist_pronoun_carries_over(small_warehouse: Settings, vocab: Any) -> None:
    agent, log = agent_for(small_warehouse, vocab)
    run(agent, log, "Tell me about The Wood Brothers")
    _, calls = run(agent, log, "Where have they played?")
    assert {"field": "artist", "op": "=", "value": "The Wood Brothers"} in calls[0]["input"][
        "filters"
    ]


def test_top_n_by_measure_and_forget_that(small_warehouse: Settings, vocab: Any) -> None:
    agent, log = agent_for(small_warehouse, vocab)
    _, calls = run(agent, log, "Top 5 artists by tickets sold in 2025")
    assert calls[0]["input"]["dimensions"] == ["artist"] and calls[0]["input"]["limit"] == 5
    _, calls = run(agent, log, "I love jazz")
    assert calls == [{"name": "remember_preference", "input": {"kind": "genres", "value": "jazz"}}]
    _, calls = run(agent, log, "What concerts should I attend?")
    assert calls[-1]["name"] == "recommend_concerts" and calls[-1]["input"]["genres"] == ["jazz"]
    _, calls = run(agent, log, "Forget that")
    assert calls == [{"name": "forget_memory", "input": {"what": "genres"}}]
