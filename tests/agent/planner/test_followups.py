"""Follow-ups, preferences, memory, explicit SQL and tool errors through a real strands Agent
over the real tool functions (see test_demo_conversations)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from strands import Agent

from agent.memory.local import LocalMemory
from core.settings import Settings
from tests.agent.planner.test_demo_conversations import make_agent, run

PREFS = 'You are Encore.\nUSER_PREFERENCES: {"genres": ["jazz"], "city": "Chicago", "budget": 80}'


def named(calls: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(c["name"], c["input"]) for c in calls]


def agent_for(
    settings: Settings, vocab: Any, tmp_path: Path, system_prompt: str | None = None
) -> Agent:
    return make_agent(settings, vocab, tmp_path, system_prompt=system_prompt)


def test_time_state_limit_and_chart_follow_ups(
    trained: Settings, vocab: Any, tmp_path: Path
) -> None:
    agent = agent_for(trained, vocab, tmp_path)
    _, calls = run(agent, "How many tickets were sold by state in 2024?")
    first = calls[0]["input"]
    assert first["dimensions"] == ["state"]
    assert first["time_range"] == {"start": "2024-01-01", "end": "2024-12-31"}
    _, calls = run(agent, "what about 2023?")
    assert calls[0]["input"]["time_range"] == {"start": "2023-01-01", "end": "2023-12-31"}
    assert calls[0]["input"]["dimensions"] == ["state"]
    _, calls = run(agent, "and the top 10?")
    assert calls[0]["input"]["limit"] == 10
    assert calls[0]["input"]["time_range"]["start"] == "2023-01-01"
    answer, calls = run(agent, "chart that")
    assert [c["name"] for c in calls] == ["make_chart"] and calls[0]["status"] == "success"
    chart = calls[0]["input"]
    assert (chart["kind"], chart["x"], chart["y"]) == ("bar", "state", "tickets_sold")
    assert "bar chart" in answer


def test_preferences_from_system_prompt_and_message(
    trained: Settings, vocab: Any, tmp_path: Path
) -> None:
    agent = agent_for(trained, vocab, tmp_path, PREFS)
    _, calls = run(agent, "Recommend some rock concerts for me")
    args = calls[-1]["input"]
    assert calls[-1]["name"] == "recommend_concerts"
    assert args["genres"] == ["rock", "jazz"] and args["city"] == "Chicago" and args["budget"] == 80


def test_preference_statement_is_remembered(trained: Settings, vocab: Any, tmp_path: Path) -> None:
    memory = LocalMemory(tmp_path / "memory")
    agent = make_agent(trained, vocab, tmp_path, memory=memory)
    answer, calls = run(agent, "My budget is $60")
    assert named(calls) == [("remember_preference", {"kind": "budget", "value": "60"})]
    assert "budget" in answer and memory.preferences("demo").budget == 60


def test_memory_recall_and_forget(trained: Settings, vocab: Any, tmp_path: Path) -> None:
    memory = LocalMemory(tmp_path / "memory")
    memory.set_preference("demo", "city", "Chicago")
    memory.set_preference("demo", "budget", 80)
    agent = make_agent(trained, vocab, tmp_path, memory=memory)
    answer, calls = run(agent, "What do you remember about me?")
    assert calls[0]["name"] == "recall_memory" and "Chicago" in answer
    _, calls = run(agent, "Forget my budget")
    assert named(calls) == [("forget_memory", {"what": "budget"})]
    assert memory.preferences("demo").budget is None


def test_explicit_sql_and_refusal(trained: Settings, vocab: Any, tmp_path: Path) -> None:
    agent = agent_for(trained, vocab, tmp_path)
    answer, calls = run(agent, "run sql: SELECT count(*) AS n FROM concerts")
    assert calls[0]["input"]["sql"] == "SELECT count(*) AS n FROM concerts"
    assert "1,500" in answer and "```sql" in answer
    answer, _ = run(agent, "DELETE FROM artists")
    assert "won't run" in answer and "only SELECT" in answer


def test_prediction_and_unknown_name(trained: Settings, vocab: Any, tmp_path: Path) -> None:
    agent = agent_for(trained, vocab, tmp_path)
    answer, calls = run(
        agent, "How many tickets will Billy Henry sell at Satin Club on 2026-12-05?"
    )
    assert calls[0]["name"] == "predict_ticket_sales" and calls[0]["status"] == "success"
    assert (
        calls[0]["input"]["artist"] == "Billy Henry" and calls[0]["input"]["venue"] == "Satin Club"
    )
    assert "Billy Henry at Satin Club on 2026-12-05" in answer and "confidence" in answer
    _, calls = run(agent, "Show me their upcoming concerts")
    assert calls[-1]["input"]["artist"] == "Billy Henry"
    answer, _ = run(agent, "Predict tickets for Nobody Famous at Satin Club")
    assert "couldn't find that name" in answer


def test_artist_pronoun_carries_over(trained: Settings, vocab: Any, tmp_path: Path) -> None:
    agent = agent_for(trained, vocab, tmp_path)
    run(agent, "Tell me about The Wood Brothers")
    _, calls = run(agent, "Where have they played?")
    assert {"field": "artist", "op": "=", "value": "The Wood Brothers"} in calls[0]["input"][
        "filters"
    ]


def test_top_n_by_measure_and_forget_that(trained: Settings, vocab: Any, tmp_path: Path) -> None:
    agent = agent_for(trained, vocab, tmp_path)
    _, calls = run(agent, "Top 5 artists by tickets sold in 2025")
    assert calls[0]["input"]["dimensions"] == ["artist"] and calls[0]["input"]["limit"] == 5
    _, calls = run(agent, "I love jazz")
    assert named(calls) == [("remember_preference", {"kind": "genres", "value": "jazz"})]
    _, calls = run(agent, "What concerts should I attend?")
    assert calls[-1]["name"] == "recommend_concerts" and calls[-1]["input"]["genres"] == ["jazz"]
    _, calls = run(agent, "Forget that")
    assert named(calls) == [("forget_memory", {"what": "genres"})]


def test_a_ranking_that_matches_nothing_is_asked_again_with_fewer_filters(
    trained: Settings, vocab: Any, tmp_path: Path
) -> None:
    agent = agent_for(trained, vocab, tmp_path)
    # no large New York venue of the small warehouse has hosted k-pop: the planner drops the
    # narrowest filter (the genre first), says so, and still ranks venues
    answer, calls = run(agent, "What are the best large venues in New York for k-pop concerts?")
    rankings = [c["input"] for c in calls if c["name"] == "venue_ranking"]
    assert rankings[0].get("genre") == "k-pop" and rankings[0].get("capacity_band") == "large"
    assert len(rankings) > 1 and "genre" not in rankings[-1]
    assert "No venue matched city 'New York' and genre 'k-pop'" in answer
    assert "so these are the best without genre 'k-pop'" in answer and "No matches" not in answer
