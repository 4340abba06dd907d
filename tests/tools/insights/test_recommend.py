"""The recommendation tools: pydantic results with items, reasons and a display table."""

from __future__ import annotations

import pytest

from core.errors import QueryRefusedError, ValidationError
from core.settings import Settings
from tests.conftest import SMALL_AS_OF, query_warehouse
from tools.context import ToolContext
from tools.insights.recommend import (
    recommend_batch,
    recommend_concerts,
    similar_artists,
    venues_for_artist,
)


def _fans(settings: Settings, n: int) -> list[str]:
    rows = query_warehouse(
        settings,
        "SELECT fan_id FROM ticket_sales WHERE fan_id IS NOT NULL "
        "GROUP BY fan_id ORDER BY count(*) DESC, fan_id LIMIT " + str(n),
    )
    return [str(r[0]) for r in rows]


def test_recommend_concerts_returns_items_with_reasons_and_a_table(ctx: ToolContext) -> None:
    fan = _fans(ctx.settings, 1)[0]
    result = recommend_concerts(ctx, fan_id=fan, date_from=SMALL_AS_OF, limit=5)
    assert result.fan_id == fan
    assert 0 < len(result.items) <= 5
    assert result.table.columns[:3] == ["rank", "artist", "venue"]
    assert [r["artist"] for r in result.table.records()] == [i.artist for i in result.items]
    assert all(item.reason for item in result.items)
    assert "150 km" in result.reach


def test_a_partner_may_not_look_a_fan_up_by_id_but_may_ask_by_taste(ctx: ToolContext) -> None:
    """A fan's recommendations reveal what they bought; the policy hides fan ids from partners,
    so the tool refuses whichever entrypoint (MCP, agent, REST) asks."""
    partner = ToolContext(ctx.settings, user="p", role="partner")
    with pytest.raises(QueryRefusedError, match="may not look up fans by id"):
        recommend_concerts(partner, fan_id=_fans(ctx.settings, 1)[0], date_from=SMALL_AS_OF)
    assert recommend_concerts(partner, genres=["pop"], date_from=SMALL_AS_OF).items


def test_stated_preferences_with_a_date_window(ctx: ToolContext) -> None:
    result = recommend_concerts(
        ctx,
        genres=["pop"],
        state="NY",
        date_from=SMALL_AS_OF,
        date_to="2027-06-30",
        limit=5,
    )
    assert all(SMALL_AS_OF <= item.event_date <= "2027-06-30" for item in result.items)
    with pytest.raises(ValidationError, match="ISO"):
        recommend_concerts(ctx, genres=["pop"], date_from="next friday")


def test_similar_artists_and_venues_for_artist(ctx: ToolContext) -> None:
    name = query_warehouse(
        ctx.settings, "SELECT name FROM artists ORDER BY popularity DESC LIMIT 1"
    )
    artist = str(name[0][0])
    similar = similar_artists(ctx, artist=artist.upper(), limit=3)
    assert len(similar.items) == 3 and similar.table.columns[1] == "artist"
    venues = venues_for_artist(ctx, artist=artist, limit=4)
    assert len(venues.items) == 4
    assert all(v.capacity > 0 for v in venues.items)


def test_recommend_batch_has_one_table_row_per_recommendation(ctx: ToolContext) -> None:
    fans = _fans(ctx.settings, 3)
    result = recommend_batch(ctx, fan_ids=[*fans, "F99999"], limit=2, date_from=SMALL_AS_OF)
    assert result.results["F99999"] == []
    assert len(result.table.rows) == sum(len(items) for items in result.results.values())
    assert {row["fan_id"] for row in result.table.records()} <= set(fans)
