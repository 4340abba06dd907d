"""Venues from a source with city-level coordinates (the Wikipedia tour dates) still resolve.

That file puts every venue of a city on the city's point, kilometres from the venue itself:
such a point says which city a venue is in, not that two same-named venues are two places.
"""

from __future__ import annotations

import csv
from pathlib import Path

from core.settings import Settings
from pipelines.ingest import ingest_files
from tests.conftest import query_warehouse

HEADER = ["venue_id", "name", "city", "state", "country", "latitude", "longitude", "capacity",
          "venue_type"]  # fmt: skip


def _venues(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows([HEADER, *rows])
    return path


def _wikipedia_rows(shared_data: Path, tmp_path: Path, cities: set[str]) -> Path:
    """The real rows of the tour-dates file whose city is one of `cities`."""
    source = shared_data / "wikipedia-world-tours-concerts" / "prepared_data_cont.csv"
    with source.open(newline="") as fh:
        header, *rows = list(csv.reader(fh))
    kept = [row for row in rows if row[header.index("City")] in cities]
    assert kept, cities
    path = tmp_path / "tour_dates.csv"
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows([header, *kept])
    return path


def _ingest(settings: Settings, path: Path, source: str) -> None:
    [outcome] = ingest_files(settings, [path], source=source)
    assert outcome.status == "succeeded", outcome.message


def _cities_of(settings: Settings, name: str) -> list[tuple[str, str, int]]:
    """Each venue of this name: its city, id and how many concerts it holds."""
    quoted = name.replace("'", "''")
    rows = query_warehouse(
        settings,
        "SELECT v.city, v.venue_id, count(c.concert_id) FROM venues v "
        f"LEFT JOIN concerts c USING (venue_id) WHERE lower(v.name) = lower('{quoted}') "
        "GROUP BY v.venue_id, v.city ORDER BY 1, 2",
    )
    return [(str(city), str(key), int(str(concerts))) for city, key, concerts in rows]


def test_city_level_points_join_the_venue_they_name(
    settings: Settings, shared_data: Path, tmp_path: Path
) -> None:
    rows = [
        ["V1", "Madison Square Garden", "New York", "NY", "US", "40.7505", "-73.9934", "20789",
         "arena"],
        ["V2", "Hollywood Bowl", "Los Angeles", "CA", "US", "34.1122", "-118.3391", "17500",
         "amphitheater"],
    ]  # fmt: skip
    _ingest(settings, _venues(tmp_path / "venues.csv", rows), "venues_feed")
    # the file's New York and Los Angeles venues sit on their city's point, 4-11 km away
    _ingest(settings, _wikipedia_rows(shared_data, tmp_path, {"New York City", "Los Angeles"}),
            "wikipedia")  # fmt: skip
    # one venue each, the feed's, holding the file's concerts
    for name, key in (("Madison Square Garden", "V1"), ("Hollywood Bowl", "V2")):
        [(_, found, concerts)] = _cities_of(settings, name)
        assert found == key and concerts > 0, name


def test_same_named_venues_of_different_cities_stay_apart(
    settings: Settings, shared_data: Path, tmp_path: Path
) -> None:
    rows = [["V1", "Olympiastadion", "Berlin", "", "DE", "52.5147", "13.2395", "74475",
             "stadium"]]  # fmt: skip
    _ingest(settings, _venues(tmp_path / "venues.csv", rows), "venues_feed")
    _ingest(settings, _wikipedia_rows(shared_data, tmp_path, {"Berlin", "Munich", "Stuttgart"}),
            "wikipedia")  # fmt: skip
    # Berlin's city point (11 km from the stadium) joins the Berlin stadium; Munich's stays apart
    olympia = _cities_of(settings, "Olympiastadion")
    assert [(city, key == "V1") for city, key, _ in olympia] == [
        ("Berlin", True),
        ("Munich", False),
    ]
    assert all(concerts > 0 for _, _, concerts in olympia)
    assert [city for city, _, _ in _cities_of(settings, "Mercedes-Benz Arena")] == [
        "Berlin", "Stuttgart"
    ]  # fmt: skip
