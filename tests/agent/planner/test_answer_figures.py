"""Offline answers read their figures right: a count of concerts when one is asked for, both
dimensions of a ranked row in the lead, and nothing at all as $0."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from agent.service import AgentService, TurnResult
from core.settings import Settings
from tests.agent.planner.test_answer_units import _column
from tests.conftest import query_warehouse


@pytest.fixture
def ask(make_service: Callable[..., AgentService]) -> Callable[[str], TurnResult]:
    service = make_service("offline", user="figures-user")
    return lambda text: asyncio.run(service.ask(text))


def test_how_many_completed_concerts_counts_concerts_not_tickets(
    small_warehouse: Settings, ask: Callable[[str], TurnResult]
) -> None:
    [(artist, concerts, tickets)] = query_warehouse(
        small_warehouse,
        "SELECT a.name, count(*), sum(p.tickets_sold) FROM concert_performance p "
        "JOIN artists a USING (artist_id) WHERE p.status = 'completed' "
        "GROUP BY a.name ORDER BY count(*) DESC, a.name LIMIT 1",
    )
    turn = ask(f"How many completed concerts did {artist} play?")
    [call] = turn.tool_calls
    assert call.input["measures"] == ["concerts"], call.input
    assert turn.answer.startswith(f"Concerts {concerts}."), turn.answer
    assert f"{tickets:,}" not in turn.answer


def test_a_lead_over_two_dimensions_names_both(
    small_warehouse: Settings, ask: Callable[[str], TurnResult]
) -> None:
    first, second = query_warehouse(
        small_warehouse,
        "SELECT a.genre, v.venue_type, sum(p.tickets_sold) AS t FROM concert_performance p "
        "JOIN artists a USING (artist_id) JOIN venues v USING (venue_id) "
        "GROUP BY 1, 2 ORDER BY t DESC, 1, 2 LIMIT 2",
    )
    answer = ask("Tickets sold by genre and venue type").answer
    leader = f"{first[0]} / {first[1]}"
    assert answer.startswith(
        f"{leader[:1].upper() + leader[1:]} has the most tickets sold ({first[2]:,}), "
        f"then {second[0]} / {second[1]} ({second[2]:,});"
    ), answer


def test_no_gross_in_a_thousands_column_reads_as_zero_dollars(
    small_warehouse: Settings, ask: Callable[[str], TurnResult]
) -> None:
    """An artist whose gross is in the thousands and who had a concert cancelled (no gross)."""
    [(artist,)] = query_warehouse(
        small_warehouse,
        "SELECT a.name FROM concert_performance p JOIN artists a USING (artist_id) "
        "GROUP BY a.name HAVING sum(p.gross_revenue) FILTER (WHERE p.status = 'cancelled') = 0 "
        "AND sum(p.gross_revenue) BETWEEN 1e4 AND 9e5 AND a.name NOT ILIKE '% and %' "
        "ORDER BY a.name LIMIT 1",
    )
    answer = ask(f"Gross revenue by status for {artist}").answer
    cells = dict(zip(_column(answer, "status"), _column(answer, "gross_revenue"), strict=True))
    assert cells["cancelled"] == "$0", cells
    assert cells["completed"].endswith("K"), cells
