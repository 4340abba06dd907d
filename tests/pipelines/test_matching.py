"""Fuzzy matching: the variants one entity really has link; near misses stay apart."""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from pipelines.transforms.matching import MatchRules, link, probability
from pipelines.transforms.matching_rules import ARTIST_RULES, CONCERT_RULES, VENUE_RULES

Row = dict[str, Any]

KILLERS: Row = {"name": "The Killers", "genre": "rock", "country": "US", "formed_year": 2001,
                "followers": 9_800_000, "popularity": 80, "spotify_id": None}  # fmt: skip
ORPHEUM: Row = {"name": "The Orpheum Theatre", "city": "Boston", "state": "MA", "country": "US",
                "latitude": 42.3559, "longitude": -71.0616, "capacity": 2700,
                "venue_type": "theater", "ticketmaster_id": None}  # fmt: skip
SHOW: Row = {"artist_id": "A1", "venue_id": "V1", "event_date": date(2025, 7, 4),
             "tour_name": "Sunrise Tour", "status": "completed", "price_min": 45.0,
             "on_sale_date": date(2025, 3, 1)}  # fmt: skip


def _clusters(rules: MatchRules, rows: list[Row], existing: int = 0) -> dict[str, str]:
    """Link `rows` (the first `existing` of them canonical rows already stored): key -> id."""
    records = [
        {**row, "_key": f"r{i}", "_anchor": f"r{i}" if i < existing else None,
         "_existing": i < existing, "_filled": 0}
        for i, row in enumerate(rows)
    ]  # fmt: skip
    con = duckdb.connect()
    con.register("records", pa.Table.from_pylist(records))
    link(con, rules, "records", "links")
    return dict(con.execute("SELECT _key, _canonical_id FROM links").fetchall())


def _same(rules: MatchRules, left: Row, right: Row) -> bool:
    ids = _clusters(rules, [left, right])
    return ids["r0"] == ids["r1"]


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("The Rolling Stones", "Rolling Stones, The"),
        ("The Rolling Stones", "ROLLING STONES, THE"),
        ("Beyoncé", "BEYONCE"),
        ("Simon & Garfunkel", "simon and garfunkel"),
        ("Kenneth Larsen", "Kenneth Laresñ"),  # a transposition and an accent
        ("Mateo Kelly", "Mateo  Kelyl"),
        ("Douglas Adams", "douglas adams (Official)"),
        ("Drake feat. Future", "Drake ft. Future"),
        ("Omar Ford Trio", "omar ford trrio"),
    ],
)
def test_artist_name_variants_match(left: str, right: str) -> None:
    assert _same(ARTIST_RULES, {**KILLERS, "name": left}, {**KILLERS, "name": right})


def test_artists_with_close_names_but_other_facts_stay_apart() -> None:
    kills = {"name": "The Kills", "genre": "rock", "country": "GB", "formed_year": 2000,
             "followers": 1_100_000, "popularity": 62, "spotify_id": None}  # fmt: skip
    assert not _same(ARTIST_RULES, KILLERS, kills)
    anderson = {**KILLERS, "name": "Kelly Anderson", "genre": "pop", "formed_year": 2015}
    andersen = {**anderson, "name": "Kelly Andersen", "genre": "jazz", "formed_year": 2019}
    assert not _same(ARTIST_RULES, anderson, andersen)


def test_different_spotify_ids_outweigh_the_same_name() -> None:
    assert not _same(
        ARTIST_RULES, {**KILLERS, "spotify_id": "abc"}, {**KILLERS, "spotify_id": "xyz"}
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"name": "Orpheum Theater", "latitude": 42.3571, "longitude": -71.0631},
        {"name": "ORPHEUM  THEATRE", "capacity": 2650},
        {"name": "Orpheum Theatre", "latitude": None, "longitude": None},
    ],
)
def test_venue_variants_match(changes: Row) -> None:
    assert _same(VENUE_RULES, ORPHEUM, {**ORPHEUM, **changes})


def test_venue_sponsor_saint_and_city_variants_match() -> None:
    civic = {**ORPHEUM, "name": "St. Louis Bank Civic Center", "city": "St. Louis", "state": "MO",
             "latitude": 38.627, "longitude": -90.1994, "venue_type": "arena"}  # fmt: skip
    renamed = {**civic, "name": "Saint Louis Civic Centre", "city": "Saint Louis"}
    assert _same(VENUE_RULES, civic, renamed)
    nyc = {**ORPHEUM, "city": "New York", "state": "NY", "latitude": 40.7128, "longitude": -74.006}
    assert _same(VENUE_RULES, nyc, {**nyc, "city": "NYC", "latitude": 40.7141})


def test_same_named_venues_in_other_places_stay_apart() -> None:
    los_angeles = {**ORPHEUM, "city": "Los Angeles", "state": "CA", "latitude": 34.0447,
                   "longitude": -118.2563, "capacity": 2000}  # fmt: skip
    assert not _same(VENUE_RULES, ORPHEUM, los_angeles)
    two_km_away = {**ORPHEUM, "name": "Orpheum Theater", "latitude": 42.3739}
    assert not _same(VENUE_RULES, ORPHEUM, two_km_away)
    other_name = {**ORPHEUM, "name": "Wilbur Theatre", "latitude": 42.3565}
    assert not _same(VENUE_RULES, ORPHEUM, other_name)


def test_concert_dates_a_day_apart_match_a_stored_concert_only() -> None:
    next_day = {**SHOW, "event_date": date(2025, 7, 5), "tour_name": "SUNRISE", "price_min": 46.2}
    # across sources (a late show listed in UTC) the stored concert takes the next-day listing
    assert _clusters(CONCERT_RULES, [SHOW, next_day], existing=1) == {"r1": "r0"}
    # one source lists a residency's nights a day apart: two concerts
    assert not _same(CONCERT_RULES, SHOW, {**SHOW, "event_date": date(2025, 7, 5)})
    two_days = {**next_day, "event_date": date(2025, 7, 6)}
    assert _clusters(CONCERT_RULES, [SHOW, two_days], existing=1) == {"r1": "r1"}
    assert _same(CONCERT_RULES, SHOW, {**SHOW, "price_min": 44.0, "tour_name": None})


def test_a_record_never_merges_two_stored_entities() -> None:
    stored = [KILLERS, {**KILLERS, "spotify_id": "other"}]
    ids = _clusters(ARTIST_RULES, [*stored, {**KILLERS, "name": "Killers, The"}], existing=2)
    assert ids == {"r2": "r0"}  # the better (first) of two equal candidates; never both


def test_a_new_cluster_is_founded_by_its_most_complete_record() -> None:
    rows = [{**KILLERS, "spotify_id": None}, {**KILLERS, "spotify_id": "s1", "name": "killers"}]
    records = [
        {**row, "_key": key, "_anchor": None, "_existing": False, "_filled": filled}
        for row, key, filled in zip(rows, ("a1", "a2"), (6, 7), strict=True)
    ]
    con = duckdb.connect()
    con.register("records", pa.Table.from_pylist(records))
    link(con, ARTIST_RULES, "records", "links")
    assert set(con.execute("SELECT _canonical_id FROM links").fetchall()) == {("a2",)}


def test_threshold_is_a_posterior_probability() -> None:
    assert probability(ARTIST_RULES, ARTIST_RULES.threshold_bits) == pytest.approx(0.9)
