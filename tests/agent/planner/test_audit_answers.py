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


# B1: questions answered with another question's data


def test_the_sales_channel_bringing_the_most_revenue_is_grouped_by_channel() -> None:
    calls, _ = ask("Which sales channel brings the most revenue?")
    name, args = calls[0]
    assert name == "semantic_query" and args["dimensions"] == ["channel"]
    assert args["measures"][0] == "gross_revenue"
    assert args["order_by"] == [{"field": "gross_revenue", "descending": True}]


def test_the_biggest_venues_are_ordered_by_capacity_not_popularity() -> None:
    calls, _ = ask("List the 10 biggest venues by capacity")
    assert [c[0] for c in calls] == ["run_sql"]
    assert "FROM venues" in calls[0][1]["sql"]
    assert calls[0][1]["sql"].endswith("ORDER BY capacity DESC, name LIMIT 10")
    calls, _ = ask("Show me the 3 smallest venues in Texas")
    assert (
        "state IN ('TX')" in calls[0][1]["sql"]
        and "capacity ASC, name LIMIT 3" in calls[0][1]["sql"]
    )


def test_the_month_with_the_highest_sell_through_ranks_the_months() -> None:
    calls, _ = ask("Which month had the highest sell-through in 2025?")
    name, args = calls[0]
    assert name == "semantic_query" and args["dimensions"] == ["month"]
    assert args["measures"] == ["sell_through"]
    assert args["order_by"] == [{"field": "sell_through", "descending": True}]
    assert args["time_range"] == {"start": "2025-01-01", "end": "2025-12-31"}


def _analysis(name: str, args: dict[str, Any]) -> Any:
    if name == "run_analysis":
        table = {"columns": ["method", "correlation", "n"],
                 "rows": [["pearson", 0.038, 1158], ["spearman", 0.109, 1158]]}  # fmt: skip
        return {"stdout": "1158 concerts: Pearson r = 0.038", "tables": [table], "charts": []}
    if name == "run_sql":
        return {"columns": ["concert_id", "capacity", "tickets_sold"],
                "rows": [["C1", 340.0, 339.0], ["C2", 650.0, 506.0]]}  # fmt: skip
    if name == "semantic_query" and args.get("dimensions") == ["genre", "month"]:
        return {"columns": ["genre", "month", "tickets_sold"],
                "rows": [["rock", "2025-01-01", 10], ["pop", "2025-01-01", 7]]}  # fmt: skip
    return canned(name, args)


def test_a_correlation_runs_the_sandbox_template_over_completed_concerts() -> None:
    calls, answer = ask(
        "What's the correlation between ticket price and sell-through?", answer=_analysis
    )
    assert [c[0] for c in calls] == ["run_analysis"]
    args = calls[0][1]
    assert args["template"] == "price_vs_sell_through"
    assert args["params"] == {"x": "avg_ticket_price", "y": "sell_through"}
    assert "status = 'completed'" in args["sql"]
    assert "r = 0.04, practically no linear relationship" in answer


def test_a_scatter_after_a_line_chart_plots_the_two_measures_asked() -> None:
    _, (calls, answer) = converse(
        "Show me the trend of concert attendance over the past year",
        "Scatter plot of capacity vs tickets sold",
        answer=_analysis,
    )
    assert [c[0] for c in calls] == ["run_sql", "make_chart"]
    assert "tickets_sold" in calls[0][1]["sql"] and "capacity" in calls[0][1]["sql"]
    chart = calls[1][1]
    assert (chart["kind"], chart["x"], chart["y"]) == ("scatter", "capacity", "tickets_sold")
    assert "scatter chart: tickets sold vs capacity" in answer


def test_a_heatmap_of_genre_by_month_is_drawn() -> None:
    calls, _ = ask("Show a heatmap of tickets sold by genre and month in 2025", answer=_analysis)
    assert calls[0][1]["dimensions"] == ["genre", "month"]
    chart = calls[1][1]
    assert calls[1][0] == "make_chart" and chart["kind"] == "heatmap"
    assert (chart["x"], chart["y"], chart["color"]) == ("month", "genre", "tickets_sold")


def _forecasts(name: str, args: dict[str, Any]) -> Any:
    if name == "upcoming_concerts":
        return {"columns": ["concert_id"], "rows": [["C1"], ["C2"]],
                "items": [{"concert_id": "C1"}, {"concert_id": "C2"}]}  # fmt: skip
    if name == "predict_concerts":
        sure = {"artist": "Sure Band", "venue": "Satin Club", "confidence": 0.9,
                "low_confidence": False}  # fmt: skip
        unsure = {"artist": "Unsure Band", "venue": "The Liberty", "confidence": 0.4,
                  "low_confidence": True}  # fmt: skip
        return {"predictions": [sure, unsure]}
    return canned(name, args)


def test_low_confidence_forecasts_next_month_are_forecast_and_filtered() -> None:
    calls, answer = ask(
        "Which concerts next month have low confidence predictions?", answer=_forecasts
    )
    assert [c[0] for c in calls] == ["upcoming_concerts", "predict_concerts"]
    assert (calls[0][1]["date_from"], calls[0][1]["date_to"]) == ("2026-12-01", "2026-12-31")
    assert calls[1][1] == {"concert_ids": ["C1", "C2"]}
    assert "1 of 2 concerts have low-confidence forecasts" in answer
    assert "Unsure Band" in answer and "Sure Band at" not in answer


def test_a_seat_count_follow_up_filters_the_ranking_by_capacity() -> None:
    _, (calls, _) = converse("Top 3 venues in Texas", "only the ones with more than 1,000 seats")
    assert calls[0] == (
        "venue_ranking", {"state": "TX", "limit": 3, "min_capacity": 1001}
    )  # fmt: skip


def test_venue_ranking_tool_keeps_venues_above_a_seat_count(trained: Settings) -> None:
    from tools.context import ToolContext
    from tools.insights.ranking import venue_ranking

    every = venue_ranking(ToolContext(trained), limit=500).rows
    big = venue_ranking(ToolContext(trained), min_capacity=1001, limit=500).rows
    assert big and all((v.capacity or 0) > 1000 for v in big)
    assert len(big) == sum((v.capacity or 0) > 1000 for v in every)


def test_an_empty_ranking_drops_the_carried_over_city_before_the_asked_criteria() -> None:
    def ranking(name: str, args: dict[str, Any]) -> Any:
        if name == "venue_ranking" and args.get("city") and args.get("capacity_band"):
            return {"columns": RANKING["columns"], "rows": []}
        return canned(name, args)

    _, (calls, answer) = converse(
        "What are the best venues in New York for rock concerts?",
        "Which venue would be best for a mid-sized indie band?",
        answer=ranking,
    )
    assert [c[1] for c in calls] == [
        {"city": "New York", "genre": "indie", "capacity_band": "medium", "limit": 10},
        {"genre": "indie", "capacity_band": "medium", "limit": 10},
    ]
    assert "so these are the best without city 'New York'." in answer
    assert "without genre" not in answer


def test_one_asked_filter_is_dropped_at_a_time() -> None:
    def ranking(name: str, args: dict[str, Any]) -> Any:
        if name == "venue_ranking" and args.get("capacity_band"):
            return {"columns": RANKING["columns"], "rows": []}
        return canned(name, args)

    calls, answer = ask("Best mid-sized indie venues in New York", answer=ranking)
    assert calls[-1][1] == {"city": "New York", "genre": "indie", "limit": 10}
    assert "so these are the best without capacity band 'medium'." in answer


def test_a_venue_name_containing_a_city_is_not_the_city() -> None:
    calls, _ = ask("Show me upcoming concerts at Madison Square Garden")
    assert calls[0][0] == "upcoming_concerts"
    assert calls[0][1]["venue"] == "Madison Square Garden" and "city" not in calls[0][1]
    calls, _ = ask("Upcoming concerts in Madison")
    assert calls[0][1]["city"] == "Madison"
    calls, _ = ask("What are the best venues in New York City?")
    assert calls[0][1]["city"] == "New York"


@pytest.mark.parametrize(
    "error",
    [
        "Error executing tool artist_profile: no artist named 'Taylor Swift'; did you mean: "
        "Gary Taylor?",  # over MCP
        "ValidationError - no artist named 'Taylor Swift'; did you mean: Gary Taylor?",  # direct
    ],
)
def test_an_unknown_name_is_said_in_the_tools_words(error: str) -> None:
    from agent.planner.composer import explain_error

    answer = explain_error(Call("artist_profile", {"artist": "Taylor Swift"}, error=error))
    assert answer == (
        "I couldn't find that name: no artist named 'Taylor Swift'; did you mean: Gary Taylor?"
    )


@pytest.mark.parametrize(
    ("text", "verb"),
    [("UPDATE venues SET capacity = 0", "UPDATE"), ("DELETE FROM fans", "DELETE")],
)
def test_a_typed_write_statement_reaches_the_query_guard(text: str, verb: str) -> None:
    calls, _ = ask(text)
    assert calls == [("run_sql", {"sql": text})] and verb in text


def test_venues_with_the_most_seats_are_ordered_by_capacity() -> None:
    calls, _ = ask("Which venues have the most seats?")
    assert calls[0][0] == "run_sql" and "ORDER BY capacity DESC" in calls[0][1]["sql"]
