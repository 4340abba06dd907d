"""Questions the end-to-end audit (notes/audit.md B1, B2, B3, B8) found answered wrongly: each
asserts what a user sees, the tool and arguments the planner picks or the answer's text."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from agent.planner import OfflinePlanner
from agent.planner.composer import compose
from agent.planner.state import Call
from core.settings import Settings
from tests.agent.planner.test_demo_conversations import make_agent, query_warehouse, run

FRIDAY = date(2026, 11, 27)
VOCAB = {
    "artists": ["Stone Drifters Band", "Stone Swords", "The Blue Suns", "Gary Taylor"],
    "venues": ["Satin Club", "The Liberty", "Marquee Lounge"],
    "cities": ["New York", "Madison", "Los Angeles"],
    "states": ["NY", "CA", "TX", "WI"],
    "genres": ["rock", "indie", "metal"],
    "venue_types": ["club", "stadium"],
}
TOOLS = [
    "semantic_query",
    "run_sql",
    "run_analysis",
    "venue_ranking",
    "predict_ticket_sales",
    "predict_concerts",
    "upcoming_concerts",
    "artist_profile",
    "make_chart",
]
RANKING = {
    "columns": ["rank", "venue", "city", "capacity", "score", "sell_through"],
    "rows": [[1, "The Liberty", "Los Angeles", 1810, 78.6, 0.91], [2, "Satin Club", "NY", 1200,
             70.1, 0.93]],
}  # fmt: skip
Answer = Callable[[str, dict[str, Any]], Any]


def canned(name: str, _args: dict[str, Any]) -> Any:
    if name == "venue_ranking":
        return RANKING
    return {"columns": ["x", "y"], "rows": [["a", 1], ["b", 2]], "items": [{"concert_id": "C1"}]}


def converse(
    *texts: str, answer: Answer = canned, today: date = FRIDAY
) -> list[tuple[list[tuple[str, dict[str, Any]]], str]]:
    """Each message's calls (answered by `answer`) and final text, in one conversation."""
    model = OfflinePlanner(vocabulary=lambda kind: VOCAB[kind], today=today)
    specs: Any = [{"name": n, "description": "", "inputSchema": {"json": {}}} for n in TOOLS]
    messages: Any = []
    out = []
    for text in texts:
        messages.append({"role": "user", "content": [{"text": text}]})
        calls: list[tuple[str, dict[str, Any]]] = []
        for i in range(8):
            call, reply = model.respond(messages, specs, "USER_PREFERENCES: {}")
            if call is None:
                messages.append({"role": "assistant", "content": [{"text": reply}]})
                out.append((calls, reply))
                break
            calls.append((call["name"], call["input"]))
            use = {
                "toolUseId": f"{len(messages)}-{i}",
                "name": call["name"],
                "input": call["input"],
            }
            result = answer(call["name"], call["input"])
            block = {
                "toolUseId": use["toolUseId"],
                "status": "success",
                "content": [{"json": result}],
            }
            messages += [{"role": "assistant", "content": [{"toolUse": use}]},
                         {"role": "user", "content": [{"toolResult": block}]}]  # fmt: skip
        else:
            raise AssertionError("the plan did not end")
    return out


def ask(text: str, **kwargs: Any) -> tuple[list[tuple[str, dict[str, Any]]], str]:
    return converse(text, **kwargs)[0]


# B1: next Friday asked on a Friday is a week on, not four weeks (the default date)
def test_next_friday_asked_on_a_friday_is_the_friday_after() -> None:
    calls, _ = ask("How many tickets would The Blue Suns sell at Satin Club next Friday?")
    assert calls == [
        ("predict_ticket_sales", {"artist": "The Blue Suns", "venue": "Satin Club",
                                  "date": "2026-12-04"})
    ]  # fmt: skip
    calls, _ = ask("How many tickets would The Blue Suns sell at Satin Club on Saturday?")
    assert calls[0][1]["date"] == "2026-11-28"


# B1: an order to delete, in words, is refused plainly instead of being run as SQL
def test_deleting_the_fans_in_words_is_refused_without_sql() -> None:
    calls, answer = ask("Delete all the fans from the database")
    assert calls == [] and answer.startswith("I can only read Encore's data")
    calls, _ = ask("Run this SQL: DELETE FROM fans")
    assert calls == [("run_sql", {"sql": "DELETE FROM fans"})]  # the guard says why it refuses


# B8: "chart that" after a venue ranking charts the score, not the rank column
def test_chart_that_after_a_ranking_charts_the_score() -> None:
    (_, _), (calls, answer) = converse("Top 5 venues in California", "chart that")
    assert calls[0][0] == "make_chart"
    assert (calls[0][1]["x"], calls[0][1]["y"]) == ("venue", "score")
    assert "score by venue" in answer


# B2: a shortened or misspelt artist name resolves; an unknown one reaches the tool, which names
# the close ones, instead of "outside what I understand"
@pytest.mark.parametrize(
    "text",
    [
        "Tell me about Stone Drifters",
        "Tell me about Stone Drifter",
        "tell me about stone drifter",
        "Tell me about the stone drifters band",
    ],
)
def test_a_partial_or_misspelt_artist_name_resolves(text: str) -> None:
    calls, _ = ask(text)
    assert calls == [("artist_profile", {"artist": "Stone Drifters Band"})]


def test_an_unknown_artist_is_looked_up_not_out_of_scope() -> None:
    calls, answer = ask("Tell me about Taylor Swift")
    assert calls == [("artist_profile", {"artist": "Taylor Swift"})]
    assert "outside what I understand" not in answer


def test_a_shortened_name_shared_by_two_artists_is_not_guessed() -> None:
    from agent.planner.entities import Gazetteer

    vocab = {**VOCAB, "artists": ["The Blue Suns", "Blue Suns Band"]}
    found = Gazetteer(lambda kind: vocab[kind]).extract("tell me about blue suns", FRIDAY)
    assert found.artists == []


# B3: an artist without completed concerts: no blank numbers, no rank by tickets sold
def test_profile_of_an_artist_without_completed_concerts() -> None:
    result = {
        "artist": {"name": "Stone Drifters Band", "genre": "rock"},
        "summary": {"concerts": 0, "tickets_sold": None, "gross_revenue": None},
        "genre_standing": {"artists_in_genre": 40, "genre": "rock", "popularity_rank": 2,
                           "tickets_rank": None},
        "upcoming": {"columns": ["concert_id", "event_date", "venue", "city"],
                     "rows": [["C1", "2027-02-28", "Brightline Center", "Honolulu"]]},
    }  # fmt: skip
    answer = compose("artist_profile", [Call("artist_profile", {}, result)], [], None)
    assert "has no completed concerts in our data yet" in answer
    assert "by tickets sold" not in answer and " tickets sold, " not in answer
    assert "rank #2 by popularity" in answer
    assert "1 upcoming concerts; the next: Brightline Center, Honolulu on 2027-02-28" in answer


def test_profile_tool_gives_no_ticket_rank_without_completed_concerts(
    trained: Settings, vocab: Any, tmp_path: Path
) -> None:
    unplayed = query_warehouse(
        trained,
        "SELECT a.name FROM artists a WHERE a.genre IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
        "concerts c WHERE c.artist_id = a.artist_id AND c.status = 'completed') ORDER BY 1 LIMIT 1",
    )
    assert unplayed, "the small warehouse has an artist with no completed concert"
    name = unplayed[0]["name"]
    answer, calls = run(make_agent(trained, vocab, tmp_path), f"Tell me about {name}")
    assert calls[0]["name"] == "artist_profile" and calls[0]["status"] == "success"
    assert f"**{name}**" in answer and "has no completed concerts" in answer
    assert "by tickets sold" not in answer
