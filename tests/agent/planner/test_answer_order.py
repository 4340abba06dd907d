"""What an offline answer says first: the lead sentence on what the data says, then the caveats
on what it leaves out (a map of US states only, withheld small groups, a forecast's default
date)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from agent.service import AgentService, TurnResult
from core.settings import Settings
from tests.conftest import query_warehouse


@pytest.fixture
def ask(make_service: Callable[..., AgentService]) -> Callable[[str], TurnResult]:
    service = make_service("offline", user="order-user")
    return lambda text: asyncio.run(service.ask(text))


def test_a_state_map_leads_with_the_top_state_and_then_says_it_is_us_only(
    small_warehouse: Settings, ask: Callable[[str], TurnResult]
) -> None:
    [(top, second, states)] = query_warehouse(
        small_warehouse,
        """
        WITH s AS (
            SELECT v.state, sum(p.gross_revenue) AS g FROM concert_performance p
            JOIN venues v USING (venue_id) WHERE v.country = 'US' GROUP BY 1)
        SELECT (SELECT state FROM s ORDER BY g DESC, state LIMIT 1),
               (SELECT state FROM s ORDER BY g DESC, state LIMIT 1 OFFSET 1), count(*) FROM s
        """,
    )
    lead, caveat, table, *_ = ask("Show me gross revenue by state on a map").answer.split("\n\n")
    assert lead.startswith(f"{top} has the most gross revenue (")
    assert f"), then {second} (" in lead
    assert lead.endswith(f"; {states} rows in all.")
    assert caveat.startswith("US venues only: states and provinces of other countries")
    assert table.startswith("| state | gross_revenue |")


def test_a_forecast_without_a_date_gives_the_forecast_before_the_date_it_took(
    small_warehouse: Settings, make_service: Callable[..., AgentService]
) -> None:
    [(artist, venue)] = query_warehouse(
        small_warehouse,
        "SELECT (SELECT name FROM artists ORDER BY popularity DESC, name LIMIT 1), "
        "(SELECT name FROM venues ORDER BY capacity DESC, name LIMIT 1)",
    )
    service = make_service("offline", user="order-forecast")
    turn = asyncio.run(service.ask(f"How many tickets would {artist} sell at {venue}?"))
    [call] = turn.tool_calls
    first, after = turn.answer.split("\n\n")[:2]
    assert first.startswith(f"- {artist} at {venue} on {call.input['date']}: ")
    assert after == f"(No date was given: this is for {call.input['date']}, four weeks from now.)"


def test_a_partner_is_told_that_small_groups_are_withheld(
    small_warehouse: Settings, make_service: Callable[..., AgentService]
) -> None:
    question = "How many fans by age band and country?"
    [(kept, small)] = query_warehouse(
        small_warehouse,
        "SELECT count(*) FILTER (WHERE n >= 10), count(*) FILTER (WHERE n < 10) FROM "
        "(SELECT age_band, country, count(*) AS n FROM fans GROUP BY ALL)",
    )
    assert small, "the fixture has small groups to withhold"
    partner = make_service("offline", user="order-partner", role="partner")
    lead, note, *_ = asyncio.run(partner.ask(question)).answer.split("\n\n")
    assert lead.startswith(f"{kept} rows; the first: ")
    assert note == (
        "Note: fans groups of fewer than 10 rows are withheld for role partner, so they are not "
        "in this answer."
    )
    analyst = make_service("offline", user="order-analyst", role="analyst")
    assert "withheld" not in asyncio.run(analyst.ask(question)).answer
