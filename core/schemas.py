"""Entity schemas: the contract every source record is validated against before it is loaded.

Constraints are declared on the fields (`Field(gt=0)`, `Literal[...]`) so that other layers can read
them (the vectorised validator compiles them to SQL); cross-field rules are model validators.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Final, Literal, TypeVar, get_args

import pydantic
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from core.errors import ValidationError

VenueType = Literal["arena", "stadium", "theater", "club", "amphitheater", "outdoor"]
ConcertStatus = Literal["scheduled", "completed", "cancelled"]
SalesChannel = Literal["web", "mobile", "box_office", "partner"]
PriceTier = Literal["general", "reserved", "premium", "vip"]
AgeBand = Literal["18-24", "25-34", "35-44", "45-54", "55-64", "65+"]

VENUE_TYPES: Final = get_args(VenueType)
CONCERT_STATUSES: Final = get_args(ConcertStatus)
SALES_CHANNELS: Final = get_args(SalesChannel)
PRICE_TIERS: Final = get_args(PriceTier)
AGE_BANDS: Final = get_args(AgeBand)

EARLIEST_DATE: Final = date(1950, 1, 1)
"""Nothing in the warehouse predates this; earlier dates are typos ("0202-05-01")."""
MAX_YEARS_AHEAD: Final = 10
MAX_CAPACITY: Final = 250_000
"""Larger than any stadium or festival ground; more is a unit or typing error."""

Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


UPPER_CASE: Final = BeforeValidator(_upper)
"""Marks a string field that is upper-cased before its checks (SQL validators read this too)."""

CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$"), UPPER_CASE]
"""ISO 3166-1 alpha-2, any case on input ("us" -> "US")."""
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$"), UPPER_CASE]
"""ISO 4217, any case on input ("mxn" -> "MXN"): the currency prices beside it are in."""
TimeZoneName = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}$")
]
"""An IANA time zone name: "America/Mexico_City", "Europe/London", "UTC"."""
Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]
Genre = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1)]


def _latest_plausible_date() -> date:
    return date.today() + timedelta(days=365 * MAX_YEARS_AHEAD)


def _check_plausible(value: date, field: str) -> date:
    if not EARLIEST_DATE <= value <= _latest_plausible_date():
        raise ValueError(
            f"{field} {value.isoformat()} is implausible; expected between "
            f"{EARLIEST_DATE.isoformat()} and {_latest_plausible_date().isoformat()}"
        )
    return value


class Entity(BaseModel):
    """Base of the entity schemas: strict about unknown fields, tolerant about string numbers."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Artist(Entity):
    """An artist; genre, popularity and followers are None where a source does not know them."""

    artist_id: Id
    name: Name
    genre: Genre | None = None
    country: CountryCode | None = None
    popularity: int | None = Field(None, ge=0, le=100, description="Spotify-style, 0-100")
    followers: int | None = Field(None, ge=0)
    formed_year: int | None = Field(None, ge=1900, le=date.today().year + 1)
    spotify_id: Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z]{22}$")] | None = None


class Venue(Entity):
    """A venue; coordinates, capacity and type are None where a source does not give them."""

    venue_id: Id
    name: Name
    city: Name
    state: Annotated[str, StringConstraints(max_length=64)] | None = None
    country: CountryCode
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    capacity: int | None = Field(None, gt=0, le=MAX_CAPACITY)
    venue_type: VenueType | None = None
    ticketmaster_id: Id | None = None
    timezone: TimeZoneName | None = None


class Concert(Entity):
    """A concert; prices are in `currency` (None: not said) and `starts_at` is in UTC."""

    concert_id: Id
    artist_id: Id
    venue_id: Id
    event_date: date
    tour_name: Name | None = None
    status: ConcertStatus
    on_sale_date: date | None = None
    price_min: Money | None = None
    price_max: Money | None = None
    currency: CurrencyCode | None = None
    starts_at: datetime | None = None

    @field_validator("event_date", "on_sale_date")
    @classmethod
    def _plausible(cls, value: date | None, info: pydantic.ValidationInfo) -> date | None:
        return None if value is None else _check_plausible(value, str(info.field_name))

    @field_validator("starts_at")
    @classmethod
    def _plausible_start(cls, value: datetime | None) -> datetime | None:
        if value is not None:
            _check_plausible(value.date(), "starts_at")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Concert:
        if self.on_sale_date is not None and self.on_sale_date > self.event_date:
            raise ValueError("on_sale_date must not be after event_date")
        if (
            self.price_min is not None
            and self.price_max is not None
            and self.price_min > self.price_max
        ):
            raise ValueError("price_min must not exceed price_max")
        return self


class TicketSale(Entity):
    sale_id: Id
    concert_id: Id
    fan_id: Id | None = None
    sold_at: datetime
    channel: SalesChannel
    price_tier: PriceTier
    quantity: int = Field(ge=1, le=100)
    unit_price: Money
    amount: Money

    @field_validator("sold_at")
    @classmethod
    def _plausible(cls, value: datetime) -> datetime:
        _check_plausible(value.date(), "sold_at")
        return value

    @model_validator(mode="after")
    def _amount_matches(self) -> TicketSale:
        expected = (self.unit_price * self.quantity).quantize(Decimal("0.01"))
        if self.amount != expected:
            raise ValueError(
                f"amount {self.amount} must equal quantity x unit_price "
                f"({self.quantity} x {self.unit_price} = {expected})"
            )
        return self


class Fan(Entity):
    fan_id: Id
    city: Name | None = None
    state: Annotated[str, StringConstraints(max_length=64)] | None = None
    country: CountryCode | None = None
    age_band: AgeBand | None = None
    signup_date: date | None = None
    favorite_genre: Genre | None = None

    @field_validator("signup_date")
    @classmethod
    def _plausible(cls, value: date | None) -> date | None:
        return None if value is None else _check_plausible(value, "signup_date")


class ConcertResult(Entity):
    """A box-score row: a concert's reported outcome, without ticket transactions.

    The concert is named either by its id or, as promoters' reports do, by artist, venue, city
    and date.
    """

    concert_id: Id | None = None
    artist: Name | None = None
    venue: Name | None = None
    city: Name | None = None
    state: Annotated[str, StringConstraints(max_length=64)] | None = None
    country: CountryCode | None = None
    event_date: date | None = None
    shows: int = Field(1, ge=1, le=100)
    tickets_sold: int = Field(ge=0)
    capacity: int = Field(gt=0, le=MAX_CAPACITY * 100)
    gross: Money

    @field_validator("event_date")
    @classmethod
    def _plausible(cls, value: date | None) -> date | None:
        return None if value is None else _check_plausible(value, "event_date")

    @model_validator(mode="after")
    def _identified_and_not_oversold(self) -> ConcertResult:
        named = None not in (self.artist, self.venue, self.city, self.event_date)
        if self.concert_id is None and not named:
            raise ValueError("unidentified: give concert_id, or artist, venue, city and event_date")
        if self.tickets_sold > self.capacity:
            raise ValueError(f"tickets_sold {self.tickets_sold} exceeds capacity {self.capacity}")
        return self


class ConcertListing(Entity):
    """A concert named rather than keyed, as tour-date lists and listings sites give them.

    Ingesting one resolves (or founds) its artist, its venue and the concert itself.
    """

    artist: Name
    venue: Name
    city: Name
    state: Annotated[str, StringConstraints(max_length=64)] | None = None
    country: CountryCode
    event_date: date
    tour_name: Name | None = None
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)

    @field_validator("event_date")
    @classmethod
    def _plausible(cls, value: date) -> date:
        return _check_plausible(value, "event_date")


ENTITY_SCHEMAS: Final[dict[str, type[Entity]]] = {
    "artists": Artist,
    "venues": Venue,
    "concerts": Concert,
    "ticket_sales": TicketSale,
    "fans": Fan,
    "concert_results": ConcertResult,
    "concert_listings": ConcertListing,
}
"""Entity name (as in the CLI and the warehouse) -> schema."""

E = TypeVar("E", bound=Entity)


def field_errors(exc: pydantic.ValidationError) -> list[tuple[str, str]]:
    """Turn pydantic's errors into `(field, message)` pairs with the offending value."""
    pairs = []
    for err in exc.errors(include_url=False):
        field = ".".join(str(part) for part in err["loc"]) or "record"
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] not in {"missing", "value_error"} and "input" in err:
            message = f"{message} (got {err['input']!r})"
        pairs.append((field, message))
    return pairs


def validate_record(schema: type[E], record: dict[str, Any]) -> E:
    """Validate one record, raising `ValidationError` whose message names every bad field."""
    try:
        return schema.model_validate(record)
    except pydantic.ValidationError as exc:
        errors = field_errors(exc)
        summary = "; ".join(f"{field}: {message}" for field, message in errors)
        raise ValidationError(
            f"invalid {schema.__name__}: {summary}", errors=errors, record=record
        ) from exc
