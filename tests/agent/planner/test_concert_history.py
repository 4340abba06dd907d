"""An artist's concert history ("List all completed concerts by X", "Show X's concert history")
lists their completed concerts, latest first, as the artist's profile does: not their upcoming
concerts, nor the venues they played."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from agent.service import AgentService
from core.settings import Settings
from tests.conftest import query_warehouse


def _table(answer: str) -> str:
    """The markdown table under 'Completed concerts, latest first:'."""
    after = answer.split("Completed concerts, latest first:\n", 1)[1]
    return after.split("\n\n", 1)[0]


@pytest.mark.parametrize(
    "question",
    [
        "List all completed concerts by {artist}",
        "Show {artist}'s concert history",
        "What concerts has {artist} played?",
    ],
)
def test_a_concert_history_lists_the_completed_concerts_latest_first(
    question: str, small_warehouse: Settings, make_service: Callable[..., AgentService]
) -> None:
    [(artist, count, latest, venue)] = query_warehouse(
        small_warehouse,
        """
        SELECT a.name, count(*), max(p.event_date),
               arg_max(v.name, p.event_date) FROM concert_performance p
        JOIN artists a USING (artist_id) JOIN venues v USING (venue_id)
        WHERE p.status = 'completed' AND a.name LIKE '%&%'
        GROUP BY a.name HAVING count(*) BETWEEN 3 AND 10 AND count(DISTINCT p.event_date) = count(*)
        ORDER BY count(*) DESC, a.name LIMIT 1
        """,
    )
    asked = make_service("offline", user="history-user", session="history")
    turn = asyncio.run(asked.ask(question.format(artist=artist)))
    [call] = turn.tool_calls
    assert call.name == "run_sql" and call.error is None
    assert turn.answer.startswith(
        f"{artist} has {count} completed concerts; the latest at {venue}, "
    )
    assert f" on {latest}." in turn.answer.split("\n")[0]
    profile = make_service("offline", user="history-user", session="profile")
    shown = _table(turn.answer)
    assert shown == _table(asyncio.run(profile.ask(f"Tell me about {artist}")).answer)
    dates = [line.split("|")[1].strip() for line in shown.splitlines()[2:]]
    assert len(dates) == count and dates == sorted(dates, reverse=True)
