"""venues_for_artist near a city, as an MCP client calls it on the insights server."""

from __future__ import annotations

import pytest

from core.settings import Settings
from tests.conftest import copy_warehouse, query_warehouse
from tests.mcp_servers.conftest import connected

# two one-venue US cities and the great-circle km between them, nearest pair first
_PAIR = """
WITH one AS (
    SELECT city, any_value(name) AS venue, radians(any_value(latitude)) AS p,
           radians(any_value(longitude)) AS l
    FROM venues WHERE country = 'US' GROUP BY city HAVING count(*) = 1)
SELECT a.city, b.venue, b.city, 2 * 6371.0 * asin(sqrt(pow(sin((b.p - a.p) / 2), 2)
       + cos(a.p) * cos(b.p) * pow(sin((b.l - a.l) / 2), 2))) AS km
FROM one a JOIN one b ON a.city < b.city
ORDER BY km, a.city LIMIT 1"""


@pytest.fixture(scope="module")
def settings(trained_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return copy_warehouse(trained_warehouse, tmp_path_factory.mktemp("mcp-near"), models=True)


async def test_venues_near_a_city_come_with_their_distance(settings: Settings) -> None:
    [(city, other_venue, other_city, km)] = query_warehouse(settings, _PAIR)
    [(artist,)] = query_warehouse(
        settings, "SELECT name FROM artists ORDER BY popularity DESC, name LIMIT 1"
    )
    wide = float(km) + 10  # type: ignore[arg-type]
    async with connected(settings, "insights") as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        schema = tools["venues_for_artist"].inputSchema["properties"]
        assert schema["within_km"]["default"] == 150.0 and "near" in schema
        assert "near" in (tools["venues_for_artist"].description or "")
        result = await client.call_tool(
            "venues_for_artist",
            {"artist": artist, "near": city, "within_km": wide, "limit": 100},
        )
        assert not result.isError, result.content[0].text  # type: ignore[union-attr]
        payload = result.structuredContent or {}
        items = {item["venue"]: item for item in payload["items"]}
        assert items[other_venue]["city"] == other_city
        assert items[other_venue]["distance_km"] == pytest.approx(float(km), abs=0.051)  # type: ignore[arg-type]
        assert all(item["distance_km"] <= wide for item in items.values())
        assert payload["reach"] == f"within {wide:g} km of {city}"
        assert "distance_km" in payload["table"]["columns"]

        nearer = await client.call_tool(
            "venues_for_artist",
            {"artist": artist, "near": city, "within_km": float(km) - 10, "limit": 100},  # type: ignore[arg-type]
        )
        assert other_venue not in {i["venue"] for i in (nearer.structuredContent or {})["items"]}


async def test_a_city_the_tool_cannot_place_is_an_error_naming_it(settings: Settings) -> None:
    [(artist,)] = query_warehouse(settings, "SELECT name FROM artists LIMIT 1")
    async with connected(settings, "insights") as client:
        result = await client.call_tool(
            "venues_for_artist", {"artist": artist, "near": "Qqqzzx Vvvw"}
        )
    assert result.isError
    assert "cannot place 'Qqqzzx Vvvw'" in result.content[0].text  # type: ignore[union-attr]
