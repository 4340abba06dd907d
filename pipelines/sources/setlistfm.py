"""setlist.fm REST API 1.0: artists, venues and setlists.

setlist.fm is a third source of artist and venue spellings for deduplication, and the only one that
says what was played. Searches are paged with `p` (1-based) and report `itemsPerPage` and `total`;
a search with no results answers 404, which this module turns into an empty batch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final
from urllib.parse import quote

import httpx

from core.errors import ConfigError, SourceError
from core.schemas import Artist, Venue
from core.settings import Settings
from pipelines.sources.base import (
    Batch,
    RawPayload,
    collect,
    compact,
    infer_venue_type,
    obj,
    source_id,
)
from pipelines.sources.http import HttpClient, error_reason
from pipelines.sources.resilience import Clock, SystemClock

SOURCE: Final = "setlistfm"
RATE_PER_S: Final = 2.0
"""setlist.fm's standard API key allows 2 requests per second."""


@dataclass(frozen=True)
class Setlist:
    """What an artist played at one show."""

    setlist_id: str
    event_date: date
    artist_id: str
    artist_name: str
    venue_id: str | None
    venue_name: str | None
    city: str | None
    country: str | None
    tour_name: str | None
    songs: tuple[str, ...]
    """Song titles in order, encores included; untitled entries are left out."""
    artist_mbid: str | None = None
    artist_tmid: int | None = None
    """The artist's Ticketmaster id, when setlist.fm knows it: a free dedup link."""


def _state(city: Mapping[str, Any]) -> str | None:
    # US/CA state codes are letters ("CA"); elsewhere stateCode is a GeoNames number ("07") that
    # means nothing without the country, so the state's name is kept instead.
    code = city.get("stateCode")
    if isinstance(code, str) and code.isalpha():
        return code.upper()
    state = city.get("state")
    return state if isinstance(state, str) and state else None


def map_venue(item: Mapping[str, Any]) -> dict[str, Any]:
    """A setlist.fm venue as a `Venue` record; capacity and coordinates are None.

    setlist.fm has no capacity, and its only coordinates (`city.coords`) are the city's: every
    venue in a city shares them, so taking them as the venue's position would invent a location.
    """
    city = obj(item.get("city"))
    country = obj(city.get("country"))
    return compact(
        Venue,
        {
            "venue_id": source_id(SOURCE, item["id"]),
            "name": item.get("name"),
            "city": city.get("name"),
            "state": _state(city),
            "country": country.get("code"),
            "latitude": None,
            "longitude": None,
            "capacity": None,
            "venue_type": infer_venue_type(item.get("name")),
        },
    )


def map_artist(item: Mapping[str, Any]) -> dict[str, Any]:
    """A setlist.fm artist as an `Artist` record; genre, popularity and followers are unknown."""
    return compact(
        Artist,
        {
            "artist_id": source_id(SOURCE, item["mbid"]),
            "name": item.get("name"),
            "genre": None,
            "popularity": None,
            "followers": None,
        },
    )


def parse_event_date(value: str) -> date:
    """setlist.fm dates are `dd-MM-yyyy`."""
    return datetime.strptime(value, "%d-%m-%Y").date()


def map_setlist(item: Mapping[str, Any]) -> Setlist:
    """A setlist.fm setlist as a `Setlist`; raises KeyError/ValueError on a malformed one."""
    artist = item["artist"]
    venue = obj(item.get("venue"))
    city = obj(venue.get("city"))
    country = obj(city.get("country"))
    tour = obj(item.get("tour"))
    sets = obj(item.get("sets"))
    songs = [
        song["name"].strip()
        for one_set in sets.get("set") or []
        for song in one_set.get("song") or []
        # an empty name is how setlist.fm records a song nobody identified
        if isinstance(song.get("name"), str) and song["name"].strip()
    ]
    tmid = artist.get("tmid")
    return Setlist(
        setlist_id=str(item["id"]),
        event_date=parse_event_date(item["eventDate"]),
        artist_id=source_id(SOURCE, artist["mbid"]),
        artist_name=str(artist["name"]),
        venue_id=source_id(SOURCE, venue["id"]) if venue.get("id") else None,
        venue_name=venue.get("name"),
        city=city.get("name"),
        country=country.get("code"),
        tour_name=tour.get("name"),
        songs=tuple(songs),
        artist_mbid=str(artist["mbid"]),
        artist_tmid=tmid if isinstance(tmid, int) else None,
    )


class SetlistFmConnector:
    """Fetches setlist.fm artists, venues and setlists."""

    source = SOURCE

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
        **http_options: Any,
    ) -> SetlistFmConnector:
        """Build the connector from `Settings`; `http_options` override `HttpClient` fields."""
        if settings.setlistfm_api_key is None:
            raise ConfigError("setlist.fm needs an API key: set ENCORE_SETLISTFM_API_KEY")
        key = settings.setlistfm_api_key.get_secret_value()
        options: dict[str, Any] = {"rate_per_s": RATE_PER_S, "burst": 2, **http_options}
        http = HttpClient(
            source=SOURCE,
            base_url=settings.setlistfm_base_url,
            timeout_s=settings.http_timeout_s,
            headers={"x-api-key": key, "Accept": "application/json"},
            secrets=(key,),
            auth_hint="check ENCORE_SETLISTFM_API_KEY",
            clock=clock or SystemClock(),
            transport=transport,
            **options,
        )
        return cls(http)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> SetlistFmConnector:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def search_artists(self, name: str, *, max_pages: int = 1) -> Batch[Artist]:
        """Artists whose name matches `name`, best match first."""
        batch: Batch[Artist] = Batch(SOURCE, "artists")
        for payload, items in self._pages(
            "search/artists", "artist", {"artistName": name}, max_pages
        ):
            batch.raw.append(payload)
            collect(batch, Artist, items, map_artist)
        return batch

    def search_venues(self, params: Mapping[str, Any], *, max_pages: int = 1) -> Batch[Venue]:
        """Venues matching setlist.fm filters (`name`, `cityName`, `country`, `stateCode`)."""
        batch: Batch[Venue] = Batch(SOURCE, "venues")
        for payload, items in self._pages("search/venues", "venue", params, max_pages):
            batch.raw.append(payload)
            collect(batch, Venue, items, map_venue)
        return batch

    def get_venue(self, venue_id: str) -> Batch[Venue] | None:
        """One venue by setlist.fm id; None if setlist.fm does not know it."""
        payload = self._get_or_none(f"venue/{quote(venue_id, safe='')}")
        if payload is None:
            return None
        return collect(Batch(SOURCE, "venues", raw=[payload]), Venue, [payload.body], map_venue)

    def artist_setlists(self, mbid: str, *, max_pages: int = 1) -> Batch[Setlist]:
        """An artist's setlists, newest first, by MusicBrainz id."""
        batch: Batch[Setlist] = Batch(SOURCE, "setlists")
        for payload, items in self._pages(
            f"artist/{quote(mbid, safe='')}/setlists", "setlist", {}, max_pages
        ):
            batch.raw.append(payload)
            self._collect_setlists(batch, items)
        return batch

    def get_setlist(self, setlist_id: str) -> Batch[Setlist] | None:
        """One setlist by id; None if setlist.fm does not know it."""
        payload = self._get_or_none(f"setlist/{quote(setlist_id, safe='')}")
        if payload is None:
            return None
        batch: Batch[Setlist] = Batch(SOURCE, "setlists", raw=[payload])
        self._collect_setlists(batch, [payload.body])
        return batch

    @staticmethod
    def _collect_setlists(batch: Batch[Setlist], items: list[Any]) -> None:
        for item in items:
            try:
                batch.accepted.append(map_setlist(item))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                item_id = item.get("id") if isinstance(item, Mapping) else None
                batch.reject(item, [("record", f"malformed setlist: {exc!r}")], item_id=item_id)

    def _get_or_none(self, path: str, params: Mapping[str, Any] | None = None) -> RawPayload | None:
        try:
            return self.http.get(path, params)
        except SourceError as exc:
            if error_reason(exc) == "not_found":
                return None
            raise

    def _pages(
        self, path: str, key: str, params: Mapping[str, Any], max_pages: int
    ) -> list[tuple[RawPayload, list[Any]]]:
        pages: list[tuple[RawPayload, list[Any]]] = []
        page = 1
        while page <= max_pages:
            payload = self._get_or_none(path, {**params, "p": page})
            if payload is None:  # setlist.fm's way of saying "no results"
                break
            body = obj(payload.body)
            items = body[key] if isinstance(body.get(key), list) else []
            pages.append((payload, items))
            per_page, total = body.get("itemsPerPage"), body.get("total")
            if not items or not isinstance(per_page, int) or not isinstance(total, int):
                break
            if page >= math.ceil(total / max(per_page, 1)):
                break
            page += 1
        return pages
