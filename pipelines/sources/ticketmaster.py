"""Ticketmaster Discovery API v2: events, venues and attractions as concerts, venues, artists.

Ids are qualified with the source (`ticketmaster:<id>`); entity resolution maps them to warehouse
ids later. Search results are paged (`page`, `size`; `page.totalPages` says when to stop).

Ticketmaster sells tickets to far more than concerts: films, sports, theatre, parking, season
passes. An event is a concert when a classification puts it in the Music segment and it names at
least one attraction to perform; any other event is skipped and counted with its reason
(`EventBatch.skipped`), neither loaded nor quarantined, since it is not a broken concert. A music
event with a performer that fails validation (no venue, no date) is a broken concert: a reject.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final, Literal, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from core.errors import ConfigError, SourceError
from core.schemas import Artist, Concert, ConcertStatus, Venue
from core.settings import Settings
from pipelines.sources.base import Batch, collect, compact, dig, infer_venue_type, source_id
from pipelines.sources.http import HttpClient, error_reason
from pipelines.sources.resilience import Clock, SystemClock

log = logging.getLogger(__name__)

SOURCE: Final = "ticketmaster"
RATE_PER_S: Final = 5.0
"""The Discovery API's default quota: 5 requests per second (and 5000 per day)."""
MAX_DEEP_ITEMS: Final = 1000
"""The API refuses `page * size >= 1000`; deeper results need narrower filters, not more pages."""
_UNDEFINED: Final = "undefined"
MUSIC_SEGMENT: Final = "KZFzniwnSyZfZ7v7nJ"
"""The id of the Discovery classification segment named "Music"."""

SkipReason = Literal["not music", "no performer"]
"""Why an event is not a concert: no classification in the Music segment, or a music event
that names no attraction to be its performer."""

B = TypeVar("B", bound=Batch[Any])


@dataclass(frozen=True)
class Skipped:
    """An event that is not a concert: counted with its reason, neither loaded nor quarantined."""

    source_id: str | None
    name: str | None
    reason: SkipReason
    segment: str | None
    """The segment of its primary classification ("Sports"); None when it has none."""


@dataclass
class EventBatch(Batch[Concert]):
    """Events as concerts: accepted and rejected as in any batch, plus the skipped non-concerts.

    Every event received is in exactly one of `accepted`, `rejects` and `skipped`.
    """

    skipped: list[Skipped] = field(default_factory=list)

    def __len__(self) -> int:
        return super().__len__() + len(self.skipped)

    def skipped_by_reason(self) -> dict[SkipReason, int]:
        """How many events were skipped for each reason, most frequent first."""
        return dict(Counter(s.reason for s in self.skipped).most_common())

    def extend(self, other: Batch[Concert]) -> None:
        super().extend(other)
        if isinstance(other, EventBatch):
            self.skipped.extend(other.skipped)


def _classification(item: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The primary classification, else the first; None when there is none."""
    classifications = [c for c in item.get("classifications") or [] if isinstance(c, Mapping)]
    primary = next((c for c in classifications if c.get("primary")), None)
    return primary or (classifications[0] if classifications else None)


def _genre(item: Mapping[str, Any]) -> str | None:
    chosen = _classification(item)
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


def _is_music(segment: Any) -> bool:
    if not isinstance(segment, Mapping):
        return False
    name = segment.get("name")
    return segment.get("id") == MUSIC_SEGMENT or (
        isinstance(name, str) and name.strip().lower() == "music"
    )


def skip_reason(item: Mapping[str, Any]) -> SkipReason | None:
    """Why a Discovery event is not a concert, or None when it is one.

    A concert is in the Music segment (any of its classifications; a sports event is not made a
    concert by its music) and names an attraction to perform. Whether that attraction is usable
    (has an id) is validation's to say: a concert without one is a reject, not a skip.
    """
    classifications = item.get("classifications")
    if not any(
        _is_music(dig(c, "segment"))
        for c in (classifications if isinstance(classifications, list) else [])
    ):
        return "not music"
    attractions = dig(item, "_embedded", "attractions")
    if not isinstance(attractions, list) or not attractions:
        return "no performer"
    return None


def collect_events(batch: EventBatch, items: list[Any], today: date) -> EventBatch:
    """Skip the events that are not concerts, counting why; map and validate the rest."""
    concerts: list[Any] = []
    for item in items:
        # a malformed item is left for `collect` to reject: it may be a concert gone wrong
        reason = skip_reason(item) if isinstance(item, Mapping) else None
        if reason is None:
            concerts.append(item)
            continue
        native, name = item.get("id"), item.get("name")
        segment = dig(_classification(item), "segment", "name")
        batch.skipped.append(
            Skipped(
                source_id=None if native is None else str(native),
                name=name if isinstance(name, str) else None,
                reason=reason,
                segment=segment if isinstance(segment, str) else None,
            )
        )
    collect(batch, Concert, concerts, lambda item: map_event(item, today))
    return batch


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
    ) -> EventBatch:
        """Events matching Discovery filters (`keyword`, `city`, `classificationName`, ...);
        those that are not concerts are counted in `skipped`."""
        today = self._today()
        batch = EventBatch(SOURCE, "concerts")
        return self._search(
            "events", batch, lambda items: collect_events(batch, items, today),
            params, size, max_pages,
        )  # fmt: skip

    def search_venues(
        self, params: Mapping[str, Any] | None = None, *, size: int = 20, max_pages: int = 1
    ) -> Batch[Venue]:
        """Venues matching Discovery filters (`keyword`, `stateCode`, `countryCode`, ...)."""
        batch: Batch[Venue] = Batch(SOURCE, "venues")
        return self._search(
            "venues", batch, lambda items: collect(batch, Venue, items, map_venue),
            params, size, max_pages,
        )  # fmt: skip

    def search_attractions(
        self, params: Mapping[str, Any] | None = None, *, size: int = 20, max_pages: int = 1
    ) -> Batch[Artist]:
        """Attractions (artists) matching Discovery filters (`keyword`, `classificationName`)."""
        batch: Batch[Artist] = Batch(SOURCE, "artists")
        return self._search(
            "attractions", batch, lambda items: collect(batch, Artist, items, map_attraction),
            params, size, max_pages,
        )  # fmt: skip

    def get_event(self, event_id: str) -> EventBatch | None:
        """One event by Ticketmaster id (in `skipped` if it is not a concert); None if
        Ticketmaster does not know it."""
        today = self._today()
        batch = EventBatch(SOURCE, "concerts")
        return self._one(
            "events", event_id, batch, lambda items: collect_events(batch, items, today)
        )

    def get_venue(self, venue_id: str) -> Batch[Venue] | None:
        """One venue by Ticketmaster id; None if Ticketmaster does not know it."""
        batch: Batch[Venue] = Batch(SOURCE, "venues")
        return self._one(
            "venues", venue_id, batch, lambda items: collect(batch, Venue, items, map_venue)
        )

    def get_attraction(self, attraction_id: str) -> Batch[Artist] | None:
        """One attraction by Ticketmaster id; None if Ticketmaster does not know it."""
        batch: Batch[Artist] = Batch(SOURCE, "artists")
        return self._one(
            "attractions", attraction_id, batch,
            lambda items: collect(batch, Artist, items, map_attraction),
        )  # fmt: skip

    def _one(
        self, kind: str, item_id: str, batch: B, add: Callable[[list[Any]], object]
    ) -> B | None:
        """Fetch one item into `batch` through `add`; None when the API does not know it."""
        try:
            payload = self.http.get(f"{kind}/{quote(item_id, safe='')}")
        except SourceError as exc:
            if error_reason(exc) == "not_found":
                return None
            raise
        batch.raw.append(payload)
        add([payload.body])
        return batch

    def _search(
        self,
        kind: str,
        batch: B,
        add: Callable[[list[Any]], object],
        params: Mapping[str, Any] | None,
        size: int,
        max_pages: int,
    ) -> B:
        """Fetch pages of a search into `batch`, handing each page's items to `add`.

        An item seen on an earlier page is passed over: results shift while a search is paged
        (an event added or sold out), and one event twice would be a repeated key at the load
        (quarantined, and a critical alert when many repeat). The raw zone keeps every page.
        """
        page, seen, repeated = 0, set[str](), 0
        while page < max_pages and (page + 1) * size <= MAX_DEEP_ITEMS:
            payload = self.http.get(kind, {**(params or {}), "page": page, "size": size})
            batch.raw.append(payload)
            items = dig(payload.body, "_embedded", kind)
            # Ticketmaster omits `_embedded` altogether when nothing matches.
            fresh, ids = [], set()
            for item in items if isinstance(items, list) else []:
                native = item.get("id") if isinstance(item, Mapping) else None
                if isinstance(native, str) and native in seen:
                    repeated += 1
                    continue
                ids.add(native)
                fresh.append(item)
            seen |= {native for native in ids if isinstance(native, str)}
            add(fresh)
            total_pages = dig(payload.body, "page", "totalPages")
            page += 1
            if not items or not isinstance(total_pages, int) or page >= total_pages:
                break
        if repeated:
            log.info("ticketmaster %s: %d items repeated on later pages, read once", kind, repeated)
        return batch
