"""A partner, who may not read fan ids, asking tickets by the buyers' age band: the offline
planner asks again with what the role may read and says what it left out."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from agent.service import AgentService
from core.settings import Settings
from tests.conftest import query_warehouse


def _ask(make_service: Callable[..., AgentService], role: str, text: str) -> tuple[str, list]:  # type: ignore[type-arg]
    service = make_service("offline", user=f"{role}-buyers", role=role)
    turn = asyncio.run(service.ask(text))
    return turn.answer, turn.tool_calls


def test_a_partner_gets_tickets_by_state_and_why_not_by_age_band(
    small_warehouse: Settings, make_service: Callable[..., AgentService]
) -> None:
    answer, calls = _ask(make_service, "partner", "Tickets sold by age band and state")
    [(state, tickets)] = query_warehouse(
        small_warehouse,
        "SELECT v.state, sum(p.tickets_sold) AS t FROM concert_performance p "
        "JOIN venues v USING (venue_id) GROUP BY 1 ORDER BY t DESC, 1 LIMIT 1",
    )
    assert "not available to role partner;" not in answer and "failed" not in answer, answer
    assert calls[-1].name == "semantic_query" and calls[-1].input["dimensions"] == ["state"]
    assert answer.startswith(f"{state} has the most tickets sold ({tickets:,})"), answer
    assert "Role partner can't link ticket sales to their buyers" in answer
    assert "leaves out the buyers' age band" in answer


def test_a_partner_asking_by_age_band_alone_gets_the_fans_by_age_band(
    small_warehouse: Settings, make_service: Callable[..., AgentService]
) -> None:
    answer, calls = _ask(make_service, "partner", "Tickets sold by age band")
    [(band, fans)] = query_warehouse(
        small_warehouse,
        "SELECT age_band, count(*) AS n FROM fans GROUP BY 1 ORDER BY n DESC, 1 LIMIT 1",
    )
    assert calls[-1].name == "run_sql", calls
    assert f"| {band} | {fans:,} |" in answer, answer
    assert "registered fans by age band, not the tickets they bought" in answer


def test_an_analyst_still_gets_tickets_by_age_band_and_state(
    make_service: Callable[..., AgentService],
) -> None:
    answer, calls = _ask(make_service, "analyst", "Tickets sold by age band and state")
    [call] = calls
    assert call.input["dimensions"] == ["age_band", "state"], call.input
    assert "can't link" not in answer and "| age_band | state |" in answer, answer
