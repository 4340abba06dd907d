"""A partner asking tickets by the buyers' age band in a place and a year gets the registered
fans by age band instead, and the caveat says the place and the dates were not applied to them
(the fans table has neither)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from agent.service import AgentService
from core.settings import Settings
from tests.conftest import query_warehouse


def test_the_fans_counted_instead_say_the_place_and_dates_do_not_apply(
    small_warehouse: Settings, make_service: Callable[..., AgentService]
) -> None:
    service = make_service("offline", user="partner-scope", role="partner")
    turn = asyncio.run(service.ask("Tickets sold by age band in Texas in 2024"))
    [(band, fans)] = query_warehouse(
        small_warehouse,
        "SELECT age_band, count(*) AS n FROM fans GROUP BY 1 ORDER BY n DESC, 1 LIMIT 1",
    )
    assert turn.tool_calls[-1].name == "run_sql", turn.tool_calls
    assert f"| {band} | {fans:,} |" in turn.answer, turn.answer  # every fan, not Texas's
    said = " ".join(turn.answer.split())
    assert "registered fans by age band, not the tickets they bought (all of them:" in said, said
    assert "state TX and the dates 2024-01-01 to 2024-12-31 apply to sales, not to fans)" in said


def test_without_a_place_or_dates_the_caveat_says_none(
    make_service: Callable[..., AgentService],
) -> None:
    service = make_service("offline", user="partner-scope", role="partner")
    answer = asyncio.run(service.ask("Tickets sold by age band")).answer
    assert "registered fans by age band, not the tickets they bought." in answer, answer
    assert "apply to sales" not in answer
