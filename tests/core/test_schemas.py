"""The entity schemas accept real-looking records and reject bad ones, naming the field."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from core.errors import ValidationError
from core.schemas import (
    Artist,
    Concert,
    ConcertResult,
    Fan,
    TicketSale,
    Venue,
    validate_record,
)

GOOD: dict[type, dict[str, Any]] = {
    Artist: {
        "artist_id": "A1",
        "name": "  The Velvet Wolves ",
        "genre": "Indie",
        "country": "us",
        "popularity": 61,
        "followers": "120000",
        "formed_year": 2011,
        "spotify_id": "4Z8W4fKeB5YxbusRsdQVPb",
    },
    Venue: {
        "venue_id": "V1",
        "name": "Orpheum Theatre",
        "city": "Boston",
        "state": "MA",
        "country": "US",
        "latitude": 42.3555,
        "longitude": -71.0617,
        "capacity": 2700,
        "venue_type": "theater",
    },
    Concert: {
        "concert_id": "C1",
        "artist_id": "A1",
        "venue_id": "V1",
        "event_date": "2025-06-14",
        "status": "completed",
        "on_sale_date": "2025-03-01",
        "price_min": "39.50",
        "price_max": 120,
    },
    TicketSale: {
        "sale_id": "S1",
        "concert_id": "C1",
        "fan_id": None,
        "sold_at": "2025-03-01T10:02:11",
        "channel": "web",
        "price_tier": "general",
        "quantity": 3,
        "unit_price": "39.50",
        "amount": "118.50",
    },
    Fan: {
        "fan_id": "F1",
        "city": "Chicago",
        "state": "IL",
        "country": "US",
        "age_band": "25-34",
        "signup_date": "2023-01-05",
        "favorite_genre": "Jazz",
    },
    ConcertResult: {
        "artist": "The Velvet Wolves",
        "venue": "Orpheum Theatre",
        "city": "Boston",
        "event_date": "2025-06-14",
        "shows": 2,
        "tickets_sold": 5200,
        "capacity": 5400,
        "gross": "312000.00",
    },
}


@pytest.mark.parametrize("schema", list(GOOD), ids=lambda s: s.__name__)
def test_good_records_validate(schema: type) -> None:
    record = validate_record(schema, GOOD[schema])
    assert isinstance(record, schema)


def test_values_are_normalised() -> None:
    artist = validate_record(Artist, GOOD[Artist])
    assert artist.name == "The Velvet Wolves"
    assert artist.genre == "indie"
    assert artist.country == "US"
    assert artist.followers == 120_000


BAD = [
    (Venue, {"capacity": 0}, "capacity", "greater than 0"),
    (Venue, {"capacity": -300}, "capacity", "greater than 0"),
    (Venue, {"latitude": 123.4}, "latitude", "less than or equal to 90"),
    (Venue, {"longitude": -181}, "longitude", "greater than or equal to -180"),
    (Venue, {"venue_type": "stadum"}, "venue_type", "'arena'"),
    (Venue, {"country": "USA"}, "country", "pattern"),
    (Artist, {"popularity": 140}, "popularity", "less than or equal to 100"),
    (Artist, {"followers": "n/a"}, "followers", "valid integer"),
    (Artist, {"name": "   "}, "name", "at least 1 character"),
    (Concert, {"event_date": "2023-02-30"}, "event_date", "valid date"),
    (Concert, {"event_date": "0202-05-01"}, "event_date", "implausible"),
    (Concert, {"status": "postponed"}, "status", "'scheduled'"),
    (
        Concert,
        {"on_sale_date": "2025-07-01"},
        "record",
        "on_sale_date must not be after event_date",
    ),
    (Concert, {"price_min": 200}, "record", "price_min must not exceed price_max"),
    (TicketSale, {"quantity": 0}, "quantity", "greater than or equal to 1"),
    (TicketSale, {"amount": "100.00"}, "record", "amount 100.00 must equal quantity x unit_price"),
    (TicketSale, {"unit_price": "39.999"}, "unit_price", "decimal places"),
    (TicketSale, {"channel": "webb"}, "channel", "'web'"),
    (Fan, {"age_band": "12-17"}, "age_band", "'18-24'"),
    (ConcertResult, {"tickets_sold": 6000}, "record", "exceeds capacity"),
]


@pytest.mark.parametrize(("schema", "change", "field", "phrase"), BAD)
def test_bad_values_are_rejected_naming_the_field(
    schema: type, change: dict[str, Any], field: str, phrase: str
) -> None:
    with pytest.raises(ValidationError) as info:
        validate_record(schema, {**GOOD[schema], **change})
    fields = [f for f, _ in info.value.detail["errors"]]
    assert field in fields
    assert phrase in str(info.value)
    if field != "record":
        assert str(info.value).startswith(f"invalid {schema.__name__}: {field}:")


def test_missing_required_field_is_named() -> None:
    record = dict(GOOD[Venue])
    del record["city"]
    with pytest.raises(ValidationError, match=r"city: Field required"):
        validate_record(Venue, record)


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError, match=r"capcity: Extra inputs are not permitted"):
        validate_record(Venue, {**GOOD[Venue], "capcity": 10})


def test_every_error_is_reported_at_once() -> None:
    with pytest.raises(ValidationError) as info:
        validate_record(Venue, {**GOOD[Venue], "capacity": -1, "latitude": 200})
    assert [f for f, _ in info.value.detail["errors"]] == ["latitude", "capacity"]


def test_facts_sources_often_lack_may_be_missing() -> None:
    venue = validate_record(
        Venue, {"venue_id": "V9", "name": "Hall", "city": "Oslo", "country": "NO"}
    )
    assert venue.capacity is None and venue.venue_type is None and venue.latitude is None
    artist = validate_record(Artist, {"artist_id": "A9", "name": "Someone"})
    assert artist.genre is None and artist.popularity is None


def test_plausible_future_dates_pass() -> None:
    next_year = date.today().replace(year=date.today().year + 1).isoformat()
    assert validate_record(Concert, {**GOOD[Concert], "event_date": next_year})
