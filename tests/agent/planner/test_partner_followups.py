"""A follow-up asked as a partner over columns the role may not read (its session's last query
grouped by the buyers' age band) gets the partner fallback too: asked again without them, and a
caveat says why, as a new question does."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from agent.service import AgentService


def test_a_partner_s_follow_up_leaves_out_the_buyers_age_band_and_says_why(
    make_service: Callable[..., AgentService],
) -> None:
    """The session's last query (tickets by age band and state) was an analyst's; the partner
    who continues it narrows it to a year."""
    analyst = make_service("offline", user="shared-desk", session="followup", role="analyst")
    first = asyncio.run(analyst.ask("Tickets sold by age band and state"))
    assert first.tool_calls[-1].input["dimensions"] == ["age_band", "state"], first.answer
    partner = make_service("offline", user="shared-desk", session="followup", role="partner")
    turn = asyncio.run(partner.ask("What about 2024?"))
    last = turn.tool_calls[-1]
    assert "failed" not in turn.answer and "not available to role" not in turn.answer, turn.answer
    assert last.name == "semantic_query" and last.input["dimensions"] == ["state"], last.input
    assert (last.input.get("time_range") or {}).get("start") == "2024-01-01", last.input
    assert "Role partner can't link ticket sales to their buyers" in turn.answer, turn.answer
    assert "leaves out the buyers' age band" in turn.answer
