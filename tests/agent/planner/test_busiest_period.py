"""'Busiest month' and 'which day of the week' questions rank the periods by the measure (the
audit's B1: one was 'outside what I understand', the other listed weekdays in name order)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from agent.service import AgentService


def test_periods_are_ranked_by_tickets(make_service: Callable[..., AgentService]) -> None:
    service = make_service("offline", user="period-user")

    async def ask(text: str) -> object:
        return await service.ask(text)

    for question, dimension in (
        ("What was the busiest month last year?", "month"),
        ("Which day of the week sells the most tickets?", "weekday"),
    ):
        turn = asyncio.run(ask(question))
        [call] = turn.tool_calls  # type: ignore[attr-defined]
        assert call.input["dimensions"] == [dimension], question
        assert call.input["order_by"] == [{"field": "tickets_sold", "descending": True}]
        assert "has the most tickets sold" in turn.answer  # type: ignore[attr-defined]
