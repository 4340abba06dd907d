"""Ticketmaster Discovery API v2: events, venues and attractions as concerts, venues, artists.

Ids are qualified with the source (`ticketmaster:<id>`); entity resolution maps them to warehouse
ids later. Search results are paged (`page`, `size`; `page.totalPages` says when to stop).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from core.errors import ConfigError, SourceError
from core.schemas import Artist, Concert, ConcertStatus, Entity, Venue
from core.settings import Settings
from pipelines.sources.base import Batch, collect, compact, dig, infer_venue_type, source_id
from pipelines.sources.http import HttpClient, error_reason
from pipelines.sources.resilience import Clock, SystemClock

SOURCE: Final = "ticketmaster"
RATE_PER_S: Final = 5.0
"""The Discovery API's default quota: 5 requests per second (and 5000 per day)."""
MAX_DEEP_ITEMS: Final = 1000
"""The API refuses `page * size >= 1000`; deeper results need narrower filters, not more pages."""
_UNDEFINED: Final = "undefined"

E = TypeVar("E", bound=Entity)


def _genre(item: Mapping[str, Any]) -> str | None:
    classifications = [c for c in item.get("classifications") or [] if isinstance(c, Mapping)]
    primary = next((c for c in classifications if c.get("primary")), None)
    chosen = primary or (classifications[0] if classifications else None)
    # "Undefined" is Ticketmaster's placeholder, not a genre; fall back to the sub-genre.
    for level in ("genre", "subGenre"):
        name = dig(chosen, level, "name")
        if isinstance(name, str) and name.strip().lower() not in ("", _UNDEFINED):
            return name.strip().lower()
    return None


def map_venue(item: Mapping[str, Any]) -> dict[str, Any]:
    """A Discovery venue as a `Venue` record; capacity is not in the API, so it is None."""
    name = item.get("name")
    return compact(
        Venue,
        {
            "venue_id": source_id(SOURCE, item["id"]),
            "name": name,
            "city": dig(item, "city", "name"),
            "state": dig(item, "state", "stateCode") or dig(item, "state", "name"),
            "country": dig(item, "country", "countryCode"),
            "latitude": dig(item, "location", "latitude"),
            "longitude": dig(item, "location", "longitude"),
            "capacity": None,
            "venue_type": infer_venue_type(name),
            "ticketmaster_id": item["id"],
            "timezone": item.get("timezone"),
        },
    )


def map_attraction(item: Mapping[str, Any]) -> dict[str, Any]:
    """A Discovery attraction as an `Artist` record; popularity and followers are not in the API."""
    return compact(
        Artist,
        {
            "artist_id": source_id(SOURCE, item["id"]),
            "name": item.get("name"),
            "genre": _genre(item),
            "popularity": None,
            "followers": None,
        },
    )


def concert_status(code: str | None, event_date: date | None, today: date) -> ConcertStatus | None:
    """Map a Discovery status code to Encore's; past dates are completed unless cancelled."""
    code = (code or "").lower()
    if code in ("cancelled", "canceled"):
        return "cancelled"
    if event_date is None:
        return None
    # onsale, offsale, rescheduled, postponed: the show is still on unless its date has passed
    return "completed" if event_date < today else "scheduled"


def _prices(item: Mapping[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(min, max, currency) over the price ranges; ranges in another currency are left out."""
    ranges = [r for r in item.get("priceRanges") or [] if isinstance(r, Mapping)]
    currencies = [r["currency"] for r in ranges if isinstance(r.get("currency"), str)]
    currency = currencies[0].upper() if currencies else None
    if currency is not None:  # min and max of different currencies mean nothing together
        ranges = [r for r in ranges if str(r.get("currency", currency)).upper() == currency]
    lows = [Decimal(str(r["min"])) for r in ranges if r.get("min") is not None]
    highs = [Decimal(str(r["max"])) for r in ranges if r.get("max") is not None]
    low, high = (str(min(lows)) if lows else None), (str(max(highs)) if highs else None)
    return low, high, currency if low or high else None


def _zone(item: Mapping[str, Any]) -> ZoneInfo | None:
    """The event's time zone: its own, else its venue's; None when unknown or not a zone."""
    for name in (dig(item, "dates", "timezone"), dig(item, "_embedded", "venues", 0, "timezone")):
        if isinstance(name, str):
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return None


def _instant(text: Any) -> datetime | None:
    """An ISO date-time with its offset ("2016-08-25T01:30:00Z") as an aware datetime."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _start(item: Mapping[str, Any], zone: ZoneInfo | None) -> datetime | None:
    """When the show starts, in UTC: the API's `dateTime`, else local date and time in its zone."""
    start = dig(item, "dates", "start") or {}
    moment = _instant(start.get("dateTime"))
    if moment is None and zone is not None and not start.get("timeTBA"):
        local_date, local_time = start.get("localDate"), start.get("localTime")
        try:
            naive = datetime.fromisoformat(f"{local_date}T{local_time}")
        except (TypeError, ValueError):
            return None
        moment = naive.replace(tzinfo=zone)
    return None if moment is None else moment.astimezone(UTC)


def _local_date(text: Any, zone: ZoneInfo | None) -> str | None:
    """The date, where the event is, of an instant the API gives in UTC (sales start)."""
    moment = _instant(text)
    if moment is None:  # no offset: the date as written
        return text[:10] if isinstance(text, str) else None
    return (moment.astimezone(zone) if zone else moment).date().isoformat()


def map_event(item: Mapping[str, Any], today: date) -> dict[str, Any]:
    """A Discovery event as a `Concert` record; the first embedded attraction is the headliner."""
    local_date = dig(item, "dates", "start", "localDate")
    try:
        event_date = date.fromisoformat(local_date) if isinstance(local_date, str) else None
    except ValueError:
        event_date = None  # left for validation to report with the offending value
    zone = _zone(item)
    starts_at = _start(item, zone)
    venue_id = dig(item, "_embedded", "venues", 0, "id")
    artist_id = dig(item, "_embedded", "attractions", 0, "id")
    price_min, price_max, currency = _prices(item)
    return compact(
        Concert,
        {
            "concert_id": source_id(SOURCE, item["id"]),
            "artist_id": None if artist_id is None else source_id(SOURCE, artist_id),
            "venue_id": None if venue_id is None else source_id(SOURCE, venue_id),
            "event_date": local_date,
            "status": concert_status(dig(item, "dates", "status", "code"), event_date, today),
            "on_sale_date": _local_date(dig(item, "sales", "public", "startDateTime"), zone),
            "price_min": price_min,
            "price_max": price_max,
            "currency": currency,
            "starts_at": None if starts_at is None else starts_at.isoformat(),
        },
    )


class TicketmasterConnector:
    """Fetches Discovery API v2 resources and maps them to Encore entities."""

    source = SOURCE

    def __init__(self, http: HttpClient, *, today: Callable[[], date] = date.today) -> None:
        self.http = http
        self._today = today

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
        **http_options: Any,
    ) -> TicketmasterConnector:
        """Build the connector from `Settings`; `http_options` override `HttpClient` fields."""
        if settings.ticketmaster_api_key is None:
            raise ConfigError("Ticketmaster needs an API key: set ENCORE_TICKETMASTER_API_KEY")
        key = settings.ticketmaster_api_key.get_secret_value()
        options: dict[str, Any] = {"rate_per_s": RATE_PER_S, "burst": 5, **http_options}
        http = HttpClient(
            source=SOURCE,
            base_url=settings.ticketmaster_base_url,
            timeout_s=settings.http_timeout_s,
            params={"apikey": key},
            headers={"Accept": "application/json"},
            secrets=(key,),
            auth_hint="check ENCORE_TICKETMASTER_API_KEY",
            clock=clock or SystemClock(),
            transport=transport,
            **options,
        )
        return cls(http)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> TicketmasterConnector:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def search_events(
        self, params: Mapping[str, Any] | None = None, *, size: int = 20, max_pages: int = 1
    ) -> Batch[Concert]:
        """Events matching Discovery filters (`keyword`, `city`, `classificationName`, ...)."""
        today = self._today()
        return self._search(
            "events",
            "concerts",
            Concert,
            lambda item: map_event(item, today),
            params,
            size,
            max_pages,
        )

    def search_venues(
        self, params: Mapping[str, Any] | None = None, *, size: int = 20, max_pages: int = 1
    ) -> Batch[Venue]:
        """Venues matching Discovery filters (`keyword`, `stateCode`, `countryCode`, ...)."""
        return self._search("venues", "venues", Venue, map_venue, params, size, max_pages)

    def search_attractions(
        self, params: Mapping[str, Any] | None = None, *, size: int = 20, max_pages: int = 1
    ) -> Batch[Artist]:
        """Attractions (artists) matching Discovery filters (`keyword`, `classificationName`)."""
        return self._search(
            "attractions", "artists", Artist, map_attraction, params, size, max_pages
        )

    def get_event(self, event_id: str) -> Batch[Concert] | None:
        """One event by Ticketmaster id; None if Ticketmaster does not know it."""
        today = self._today()
        return self._one(
            "events", "concerts", event_id, Concert, lambda item: map_event(item, today)
        )

    def get_venue(self, venue_id: str) -> Batch[Venue] | None:
        """One venue by Ticketmaster id; None if Ticketmaster does not know it."""
        return self._one("venues", "venues", venue_id, Venue, map_venue)

    def get_attraction(self, attraction_id: str) -> Batch[Artist] | None:
        """One attraction by Ticketmaster id; None if Ticketmaster does not know it."""
        return self._one("attractions", "artists", attraction_id, Artist, map_attraction)

    def _one(
        self,
        kind: str,
        entity: str,
        item_id: str,
        schema: type[E],
        mapper: Callable[[Mapping[str, Any]], dict[str, Any]],
    ) -> Batch[E] | None:
        try:
            payload = self.http.get(f"{kind}/{quote(item_id, safe='')}")
        except SourceError as exc:
            if error_reason(exc) == "not_found":
                return None
            raise
        batch: Batch[E] = Batch(SOURCE, entity, raw=[payload])
        return collect(batch, schema, [payload.body], mapper)

    def _search(
        self,
        kind: str,
        entity: str,
        schema: type[E],
        mapper: Callable[[Mapping[str, Any]], dict[str, Any]],
        params: Mapping[str, Any] | None,
        size: int,
        max_pages: int,
    ) -> Batch[E]:
        batch: Batch[E] = Batch(SOURCE, entity)
        page = 0
        while page < max_pages and (page + 1) * size <= MAX_DEEP_ITEMS:
            payload = self.http.get(kind, {**(params or {}), "page": page, "size": size})
            batch.raw.append(payload)
            items = dig(payload.body, "_embedded", kind)
            # Ticketmaster omits `_embedded` altogether when nothing matches.
            collect(batch, schema, items if isinstance(items, list) else [], mapper)
            total_pages = dig(payload.body, "page", "totalPages")
            page += 1
            if not items or not isinstance(total_pages, int) or page >= total_pages:
                break
        return batch
