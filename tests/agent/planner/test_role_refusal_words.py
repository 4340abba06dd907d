"""A query over a column the caller's role may not read, with no fallback to ask instead, reads
as a refusal for the role, not as a step that failed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from agent.service import AgentService


def test_a_partner_counting_buyers_is_told_the_role_may_not_read_them(
    make_service: Callable[..., AgentService],
) -> None:
    """Fans who bought, by state, are counted from the sales' fan ids, which a partner may not
    read (only registered fans by their own columns)."""
    service = make_service("offline", user="partner-refusal", role="partner")
    answer = asyncio.run(service.ask("Number of fans by state")).answer
    assert answer.startswith("That isn't available to your role: column ticket_sales.fan_id "), (
        answer
    )
    assert "failed" not in answer and "Error executing tool" not in answer, answer
