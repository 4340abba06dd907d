"""The offline agent's answers from ticket transactions say how much of the business they cover;
answers from every concert's results say nothing of the kind."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from agent.service import AgentService
from core.settings import Settings
from tests.conftest import query_warehouse


def _ask(make_service: Callable[..., AgentService], role: str, text: str) -> str:
    service = make_service("offline", user=f"{role}-coverage", role=role)
    try:
        return asyncio.run(service.ask(text)).answer
    finally:
        asyncio.run(service.aclose())


def _tickets(value: int) -> str:
    return f"{value / 1e6:.1f}M" if value >= 1e6 else f"{value:,}"


def test_tickets_by_channel_say_what_the_transactions_cover_and_by_state_do_not(
    small_warehouse: Settings, make_service: Callable[..., AgentService]
) -> None:
    [(channel, most, sold)] = query_warehouse(
        small_warehouse,
        "SELECT arg_max(channel, t), max(t), sum(t) FROM "
        "(SELECT channel, sum(quantity) AS t FROM ticket_sales GROUP BY 1)",
    )
    [(with_sales,)] = query_warehouse(
        small_warehouse,
        "SELECT count(DISTINCT concert_id) FROM ticket_sales JOIN concerts USING (concert_id) "
        "WHERE status = 'completed'",
    )
    [(concerts, tickets)] = query_warehouse(
        small_warehouse,
        "SELECT count(*) FILTER (WHERE status = 'completed'), sum(tickets_sold) "
        "FROM concert_performance",
    )
    answer = _ask(make_service, "analyst", "Tickets sold by channel")
    lead = answer.partition("\n\n")[0]
    assert lead.startswith(f"{str(channel).capitalize()} has the most tickets sold ({most:,})")
    assert lead.endswith(
        f" From ticket transactions, which cover {with_sales:,} of {concerts:,} completed "
        f"concerts ({_tickets(int(sold))} of {_tickets(int(tickets))} tickets)."
    ), answer
    # tickets by state come from every concert's results: nothing to qualify
    by_state = _ask(make_service, "analyst", "Tickets sold by state")
    assert "has the most tickets sold" in by_state and "transactions" not in by_state, by_state


def test_a_partner_hears_what_the_sales_they_may_read_cover(
    small_warehouse: Settings, make_service: Callable[..., AgentService]
) -> None:
    [(sold,)] = query_warehouse(
        small_warehouse, "SELECT sum(quantity) FROM ticket_sales WHERE channel = 'partner'"
    )
    answer = _ask(make_service, "partner", "Revenue by price tier")
    assert "From the ticket transactions role partner may read, which cover " in answer, answer
    assert f"({_tickets(int(sold))} of " in answer, answer
