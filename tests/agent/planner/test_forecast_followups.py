"""Forecast follow-ups keep the forecast's artist, venue and date and change what they name
("and at X in July 2027?", "what if tickets cost $40?"); a forecast without a date says which
day it is for (the audit's B17)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from agent.service import AgentService
from core.settings import Settings
from tests.conftest import query_warehouse


def test_a_forecast_conversation_changes_one_thing_at_a_time(
    small_warehouse: Settings, make_service: Callable[..., AgentService]
) -> None:
    [(artist, first, second)] = query_warehouse(
        small_warehouse,
        "SELECT (SELECT name FROM artists ORDER BY popularity DESC, name LIMIT 1), "
        "(SELECT name FROM venues ORDER BY capacity DESC, name LIMIT 1), "
        "(SELECT name FROM venues ORDER BY capacity DESC, name LIMIT 1 OFFSET 3)",
    )
    service = make_service("offline", user="fc-user")

    async def talk(*texts: str) -> list[object]:
        return [await service.ask(text) for text in texts]

    asked, moved, priced = asyncio.run(
        talk(f"How many tickets would {artist} sell at {first}?",
             f"and at {second} in July 2027?", "what if tickets cost $40?")
    )  # fmt: skip
    calls = [t.tool_calls[0].input for t in (asked, moved, priced)]  # type: ignore[attr-defined]
    assert calls[0]["artist"] == artist and calls[0]["venue"] == first
    assert "No date was given: this is for " + calls[0]["date"] in asked.answer  # type: ignore[attr-defined]
    assert calls[1] == {**calls[0], "venue": second, "date": "2027-07-01"}
    assert calls[2] == {**calls[1], "price": 40.0}
