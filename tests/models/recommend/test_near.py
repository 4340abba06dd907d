"""Venues for an artist near a city: a radius around the city's centre, each venue's distance.

Two venues are added to a copy of the small warehouse 100 km and 600 km due north of a city (a
meridian arc of d km is d / R radians of latitude), and the recommender is trained on that copy.
"""

from __future__ import annotations

import math

import pytest

from core.errors import ValidationError
from core.settings import Settings
from core.warehouse import writing
from models.recommend import venues_for_artist
from models.recommend.content import EARTH_RADIUS_KM
from pipelines.generate.reference import load_reference
from tests.conftest import copy_warehouse, query_warehouse

OFFSETS_KM = {"Northway Hall": 100.0, "Farnorth Hall": 600.0}
_ONE_VENUE_CITY = (
    "SELECT city FROM venues WHERE country = 'US' AND venue_id NOT LIKE 'VNEAR%' "
    "GROUP BY city HAVING count(*) = 1 ORDER BY city LIMIT 1"
)


@pytest.fixture(scope="module")
def placed(small_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A copy of the small warehouse with the two venues north of the first US city that has one
    venue (the city's centre is then that venue)."""
    settings = copy_warehouse(small_warehouse, tmp_path_factory.mktemp("near"))
    with writing(settings) as con:
        [(city,)] = con.execute(_ONE_VENUE_CITY).fetchall()
        for i, (name, km) in enumerate(OFFSETS_KM.items()):
            con.execute(
                "INSERT INTO venues SELECT * REPLACE (? AS venue_id, ? AS name, ? AS city, "
                "latitude + ? AS latitude, NULL AS ticketmaster_id) FROM venues "
                "WHERE city = ? ORDER BY venue_id LIMIT 1",
                [f"VNEAR{i}", name, f"{name} Town", math.degrees(km / EARTH_RADIUS_KM), city],
            )
    return settings


def _city_and_artist(settings: Settings) -> tuple[str, str]:
    [(city, artist)] = query_warehouse(
        settings,
        f"SELECT ({_ONE_VENUE_CITY}), "
        "(SELECT name FROM artists ORDER BY popularity DESC, name LIMIT 1)",
    )
    return str(city), str(artist)


def test_a_venue_100_km_away_is_near_and_one_600_km_away_is_not(placed: Settings) -> None:
    city, artist = _city_and_artist(placed)
    items = venues_for_artist(placed, artist, near=city, limit=500)
    by_name = {item["venue"]: item for item in items}
    assert by_name["Northway Hall"]["distance_km"] == pytest.approx(100.0, abs=0.1)
    assert "100 km from" in by_name["Northway Hall"]["reason"]
    assert "Farnorth Hall" not in by_name
    assert all(item["distance_km"] <= 150.0 for item in items)
    assert any(item["city"] == city and f"in {city}" in item["reason"] for item in items)

    wider = venues_for_artist(placed, artist, near=city, within_km=700, limit=500)
    assert {i["venue"]: i["distance_km"] for i in wider}["Farnorth Hall"] == pytest.approx(
        600.0, abs=0.1
    )
    narrower = venues_for_artist(placed, artist, near=city, within_km=50, limit=500)
    assert "Northway Hall" not in {i["venue"] for i in narrower}


def test_distances_are_great_circle_km_from_the_city_centre(placed: Settings) -> None:
    """The service's distances against DuckDB's haversine from the mean of the city's venues."""
    city, artist = _city_and_artist(placed)
    items = venues_for_artist(placed, artist, near=city, within_km=2_000, limit=500)
    expected = dict(
        query_warehouse(
            placed,
            f"""WITH c AS (SELECT radians(avg(latitude)) AS p, radians(avg(longitude)) AS l
                          FROM venues WHERE city = '{city}')
                SELECT v.name, 2 * {EARTH_RADIUS_KM} * asin(sqrt(
                    pow(sin((radians(v.latitude) - c.p) / 2), 2)
                    + cos(c.p) * cos(radians(v.latitude))
                      * pow(sin((radians(v.longitude) - c.l) / 2), 2)))
                FROM venues v, c WHERE v.latitude IS NOT NULL""",
        )
    )
    within = {name for name, km in expected.items() if float(km) <= 2_000}  # type: ignore[arg-type]
    assert {item["venue"] for item in items} == within
    for item in items:
        assert item["distance_km"] == pytest.approx(float(expected[item["venue"]]), abs=0.051)  # type: ignore[arg-type]


def test_a_city_without_venues_is_placed_from_the_list_of_cities(placed: Settings) -> None:
    _, artist = _city_and_artist(placed)
    venue_cities = {str(c).lower() for (c,) in query_warehouse(placed, "SELECT city FROM venues")}
    towns = load_reference().cities
    town = towns[~towns["city"].str.lower().isin(venue_cities) & (towns["country_code"] == "US")]
    row = town.iloc[0]
    items = venues_for_artist(placed, artist, near=str(row["city"]), within_km=400, limit=500)
    assert items, f"no venue within 400 km of {row['city']}"
    assert all(f"km from {row['city']}, {row['state_code']}" in i["reason"] for i in items)
    assert all(i["city"] != row["city"] and i["distance_km"] <= 400 for i in items)


def test_a_city_that_cannot_be_placed_is_named_with_close_spellings(placed: Settings) -> None:
    city, artist = _city_and_artist(placed)
    with pytest.raises(ValidationError, match="cannot place 'Qqqzzx Vvvw'") as raised:
        venues_for_artist(placed, artist, near="Qqqzzx Vvvw")
    assert raised.value.detail["field"] == "near"
    typo = city[:-1] + "q" + city[-1]  # one letter too many is still the city
    assert venues_for_artist(placed, artist, near=typo, limit=3)[0]["distance_km"] is not None
    with pytest.raises(ValidationError, match="within_km"):
        venues_for_artist(placed, artist, near=city, within_km=0)


def test_without_near_venues_carry_no_distance(placed: Settings) -> None:
    _, artist = _city_and_artist(placed)
    items = venues_for_artist(placed, artist, limit=3)
    assert items and all(item["distance_km"] is None for item in items)


def test_a_state_says_which_of_two_same_named_cities_is_meant(placed: Settings) -> None:
    _, artist = _city_and_artist(placed)
    towns = load_reference().cities
    shared = towns[towns["city"].duplicated(keep=False)]
    assert not shared.empty
    for name, state in zip(shared["city"], shared["state_code"], strict=True):
        for kwargs in ({"near": f"{name}, {state}"}, {"near": name, "state": state}):
            [item] = venues_for_artist(placed, artist, within_km=20_000, limit=1, **kwargs)
            assert f"{name}, {state}" in item["reason"], kwargs
