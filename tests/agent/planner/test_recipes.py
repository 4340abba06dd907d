"""Tasks of several steps the offline planner answered wrongly in the audit (B1): planning a show
(venues that fit, forecasts for the best two), a measure by state on a map, fan retention by
cohort and month-over-month change (the sandbox's templates), and an artist's rank in its genre
first. Each answer is checked against the warehouse or the tools' own output."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest

from agent.memory.local import LocalMemory
from agent.planner.dates import DateRange
from agent.planner.entities import Entities
from agent.planner.routes import build_plan
from agent.planner.state import Call, DialogueState
from agent.service import AgentService, TurnResult
from core.settings import Settings
from tests.agent.conftest import agent_settings
from tests.conftest import query_warehouse


@pytest.fixture
def ask(trained: Settings, tmp_path: Path) -> Iterator[Callable[[str], TurnResult]]:
    """One question in a fresh session: nothing carried over from an earlier one. On the trained
    copy: planning a show uses the recommender and the forecaster, which would otherwise be
    trained and registered in the shared small warehouse that other tests read."""
    service = AgentService.create(
        trained, user="recipes-user", role="analyst", model="offline",
        memory=LocalMemory(tmp_path / "memory"), agent_settings=agent_settings(),
    )  # fmt: skip
    yield lambda text: asyncio.run(service.ask(text))
    asyncio.run(service.aclose())


def test_plan_a_show_forecasts_the_two_venues_that_fit_best(
    small_warehouse: Settings, ask: Callable[[str], TurnResult]
) -> None:
    [(state, artist)] = query_warehouse(
        small_warehouse,
        "SELECT (SELECT state FROM venues WHERE country = 'US' GROUP BY state "
        "ORDER BY count(*) DESC, state LIMIT 1), "
        "(SELECT name FROM artists ORDER BY popularity DESC, name LIMIT 1)",
    )
    turn = ask(f"Plan a show for {artist} in {state} on 2027-05-01")
    names = [c.name for c in turn.tool_calls]
    assert names == ["venues_for_artist", "predict_ticket_sales", "predict_ticket_sales"]
    fits, *forecasts = turn.tool_calls
    assert fits.input["artist"] == artist and fits.input["state"] == state
    best_two = [item["venue"] for item in fits.output["items"][:2]]
    assert [f.input["venue"] for f in forecasts] == best_two
    assert all(f.input["date"] == "2027-05-01" and f.error is None for f in forecasts)
    stronger = max(forecasts, key=lambda f: f.output["tickets_sold"]).input["venue"]
    assert turn.answer.startswith(
        f"Plan for {artist} in {state} on 2027-05-01: {stronger} is the stronger"
    )


def test_plan_a_show_near_a_city_with_one_venue_says_so(
    small_warehouse: Settings, ask: Callable[[str], TurnResult]
) -> None:
    [(city, artist)] = query_warehouse(
        small_warehouse,
        "SELECT (SELECT city FROM venues GROUP BY city HAVING count(*) = 1 ORDER BY city LIMIT 1), "
        "(SELECT name FROM artists ORDER BY popularity DESC, name LIMIT 1)",
    )
    turn = ask(f"Plan a show for {artist} near {city} on 2027-05-01")
    fits, *forecasts = turn.tool_calls
    assert fits.input == {"artist": artist, "near": city, "limit": 5}
    assert all(item["distance_km"] <= 150 for item in fits.output["items"])
    assert [f.name for f in forecasts] == ["predict_ticket_sales"] * len(fits.output["items"])
    if len(forecasts) == 1:
        assert "only one venue fits" in turn.answer.split("\n")[0]


def test_a_state_map_draws_us_states_and_says_the_rest_is_left_out(
    small_warehouse: Settings, ask: Callable[[str], TurnResult]
) -> None:
    turn = ask("Show me gross revenue by state on a map")
    query, chart = turn.tool_calls
    assert {"field": "country", "op": "=", "value": "US"} in query.input["filters"]
    assert chart.name == "make_chart" and chart.input["kind"] == "map" and chart.error is None
    us_states = {
        s
        for (s,) in query_warehouse(
            small_warehouse,
            "SELECT DISTINCT v.state FROM concert_performance p JOIN venues v USING (venue_id) "
            "WHERE v.country = 'US'",
        )
    }
    drawn = {row[0] for row in chart.input["table"]["rows"]}
    assert drawn == us_states
    assert chart.input["table"]["columns"][-2:] == ["latitude", "longitude"]
    assert turn.charts and "US venues only" in turn.answer


def test_fan_retention_by_cohort_runs_the_cohort_template(
    small_warehouse: Settings, ask: Callable[[str], TurnResult]
) -> None:
    turn = ask("Analyse fan retention by cohort")
    [call] = turn.tool_calls
    assert call.name == "run_analysis" and call.input["template"] == "fan_cohorts"
    # each cohort's share buying again the month after its first purchase, averaged
    [(average,)] = query_warehouse(
        small_warehouse,
        """
        WITH bought AS (
            SELECT DISTINCT fan_id, year(sold_at) * 12 + month(sold_at) AS m
            FROM ticket_sales WHERE fan_id IS NOT NULL),
        firsts AS (SELECT fan_id, min(m) AS cohort FROM bought GROUP BY fan_id),
        shares AS (
            SELECT f.cohort, count(DISTINCT b.fan_id) / count(DISTINCT f.fan_id) AS share
            FROM firsts f LEFT JOIN bought b ON b.fan_id = f.fan_id AND b.m = f.cohort + 1
            GROUP BY f.cohort)
        SELECT avg(share) FROM shares WHERE cohort + 1 <= (SELECT max(m) FROM bought)
        """,
    )
    assert turn.answer.startswith(
        f"Fan retention by cohort (fans grouped by the month of their first purchase): on "
        f"average {float(average):.0%} of a cohort bought again the month after"  # type: ignore[arg-type]
    )


def test_month_over_month_growth_runs_the_template_and_shows_its_code(
    small_warehouse: Settings, ask: Callable[[str], TurnResult]
) -> None:
    turn = ask("Write Python to compute month-over-month growth in tickets sold")
    [call] = turn.tool_calls
    assert call.input["template"] == "month_over_month"
    assert call.input["params"] == {"measure": "tickets_sold"}
    (before, latest) = query_warehouse(
        small_warehouse,
        "SELECT * FROM (SELECT strftime(event_date, '%Y-%m') AS month, sum(tickets_sold) AS t "
        "FROM concert_performance WHERE status = 'completed' GROUP BY 1 ORDER BY 1 DESC LIMIT 2) "
        "ORDER BY month",
    )
    change = round((float(latest[1]) / float(before[1]) - 1) * 100, 1)  # type: ignore[arg-type]
    assert turn.answer.startswith(f"Month-over-month change in tickets sold: {latest[0]}")
    assert f"{change:+,.1f}% on the month before" in turn.answer
    assert "```python" in turn.answer and "pct_change" in turn.answer


def test_popularity_among_genre_peers_leads_with_the_rank(
    small_warehouse: Settings, ask: Callable[[str], TurnResult]
) -> None:
    [(artist, genre, rank, peers)] = query_warehouse(
        small_warehouse,
        """
        WITH totals AS (
            SELECT a.name, a.genre, sum(p.tickets_sold) AS t FROM artists a
            JOIN concert_performance p USING (artist_id) GROUP BY ALL),
        ranked AS (
            SELECT name, genre, row_number() OVER (PARTITION BY genre ORDER BY t DESC, name) AS r,
                   count(*) OVER (PARTITION BY genre) AS n FROM totals)
        SELECT name, genre, r, n FROM ranked WHERE r = 3 ORDER BY n DESC, genre LIMIT 1
        """,
    )
    turn = ask(f"How popular is {artist} compared to other {genre} artists?")
    assert turn.answer.startswith(f"{artist} ranks #{rank} of the {peers} {genre} artists")


def test_a_show_plan_where_nothing_fits_takes_the_best_anywhere_and_says_so() -> None:
    """The plan's walk over the tools' results, as the model replays it each step of a turn."""
    ents = Entities(
        artists=["The Band"],
        cities=["Smallville"],
        dates=DateRange(date(2027, 5, 1), date(2027, 5, 1)),
    )
    results = {
        ("venues_for_artist", "Smallville"): {"items": [], "reach": "within 150 km of Smallville"},
        ("venues_for_artist", None): {"items": [{"venue": "Big Hall"}, {"venue": "Barn"}]},
        ("predict_ticket_sales", "Big Hall"): {
            "venue": "Big Hall", "tickets_sold": 900, "gross": 45000.0, "confidence": 0.8,
        },
        ("predict_ticket_sales", "Barn"): {
            "venue": "Barn", "tickets_sold": 1200, "gross": 30000.0, "confidence": 0.6,
        },
    }  # fmt: skip
    done: list[Call] = []
    while True:
        plan = build_plan(
            "refine", "Plan a show for The Band near Smallville on 2027-05-01", ents,
            DialogueState(), {}, date(2026, 11, 27),
        )  # fmt: skip
        call = plan.next_call(done)
        if call is None:
            break
        key = call.input.get("venue") or call.input.get("near")
        done.append(Call(call.name, call.input, results[(call.name, key)]))
    assert [(c.name, c.input.get("venue")) for c in done[2:]] == [
        ("predict_ticket_sales", "Big Hall"),
        ("predict_ticket_sales", "Barn"),
    ]
    assert plan.notes[0].startswith(
        "Plan for The Band near Smallville on 2027-05-01: Barn is the stronger of the two"
    )
    assert (
        "No venue within 150 km of Smallville fits The Band, so these are the best anywhere."
        in plan.notes
    )
