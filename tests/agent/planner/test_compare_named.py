"""Comparing things by name compares those things: one row each for "stadiums vs arenas", and
the two artists named rather than the top 20 (the audit's B1)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from agent.service import AgentService
from core.settings import Settings
from tests.conftest import query_warehouse


def test_named_values_are_compared_one_row_each(
    small_warehouse: Settings, make_service: Callable[..., AgentService]
) -> None:
    first, second = (
        name
        for (name,) in query_warehouse(
            small_warehouse, "SELECT name FROM artists ORDER BY popularity DESC, name LIMIT 2"
        )
    )
    service = make_service("offline", user="compare-user")

    async def ask(text: str) -> object:
        return await service.ask(text)

    kinds = asyncio.run(ask("Compare sell-through of stadiums vs arenas"))
    [call] = kinds.tool_calls  # type: ignore[attr-defined]
    assert call.input["dimensions"] == ["venue_type"]
    rows = {row[0] for row in kinds.tables[0].rows}  # type: ignore[attr-defined]
    assert rows == {"stadium", "arena"}
    artists = asyncio.run(ask(f"Compare {first} and {second}"))
    table = artists.tables[0]  # type: ignore[attr-defined]
    assert {row[table.columns.index("artist")] for row in table.rows} == {first, second}
