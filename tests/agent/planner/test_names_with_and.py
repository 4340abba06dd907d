"""Artist names with " and " in them ("The Choir and the Heroes") are one name: asked about,
they get the artist's profile, and two of them still compare as two."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from agent.service import AgentService
from core.settings import Settings
from tests.conftest import query_warehouse


def test_an_artist_named_with_and_gets_its_profile(
    small_warehouse: Settings, make_service: Callable[..., AgentService]
) -> None:
    names = [
        str(name)
        for (name,) in query_warehouse(
            small_warehouse, "SELECT name FROM artists WHERE name ILIKE '% and %' ORDER BY name"
        )
    ]
    assert len(names) >= 5, "the fixture has artists named with 'and'"
    for i, name in enumerate(names):
        question = ("Tell me about {}", "Who is {}?", "tell me about {}")[i % 3].format(
            name if i % 3 != 2 else name.lower()
        )
        service = make_service("offline", user="and-names", session=f"and-{i}")
        turn = asyncio.run(service.ask(question))
        assert [(c.name, c.input) for c in turn.tool_calls] == [
            ("artist_profile", {"artist": name})
        ], question
        assert turn.answer.startswith(f"**{name}**"), question


def test_two_artists_named_with_and_still_compare_as_two(
    small_warehouse: Settings, make_service: Callable[..., AgentService]
) -> None:
    first, second = (
        str(name)
        for (name,) in query_warehouse(
            small_warehouse,
            "SELECT a.name FROM artists a JOIN concert_performance p USING (artist_id) "
            "WHERE a.name ILIKE '% and %' GROUP BY a.name ORDER BY sum(p.tickets_sold) DESC "
            "LIMIT 2",
        )
    )
    service = make_service("offline", user="and-compare")
    turn = asyncio.run(service.ask(f"Compare {first} and {second}"))
    [query, *_] = turn.tool_calls
    assert query.name == "semantic_query" and query.input["dimensions"] == ["artist"]
    assert {"field": "artist", "op": "in", "value": [first, second]} in query.input["filters"]
    assert turn.answer.startswith(f"{first} has the most tickets sold")
