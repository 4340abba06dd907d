"""`lookup_source`: ask Spotify, Ticketmaster or setlist.fm through the pipeline connectors.

A missing key or an unreachable source is an answer, not an error: the last cached result is
returned when there is one, otherwise `reachable=False` with a message saying what to set.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final, Literal

import httpx
from pydantic import BaseModel, Field

from core.errors import ConfigError, SourceError, ValidationError
from core.settings import Settings
from pipelines.sources.resilience import Clock
from tools.browser.cache import WebCache
from tools.browser.config import BrowserConfig
from tools.context import ToolContext

log = logging.getLogger(__name__)

SourceName = Literal["spotify", "ticketmaster", "setlistfm"]
LookupKind = Literal["artist", "events"]

LABELS: Final[dict[str, str]] = {
    "spotify": "Spotify",
    "ticketmaster": "Ticketmaster",
    "setlistfm": "setlist.fm",
}
KEY_HINTS: Final[dict[str, str]] = {
    "spotify": "ENCORE_SPOTIFY_CLIENT_ID/SECRET",
    "ticketmaster": "ENCORE_TICKETMASTER_API_KEY",
    "setlistfm": "ENCORE_SETLISTFM_API_KEY",
}
_NAMESPACE: Final = "lookup"


class SourceLookup(BaseModel):
    """What a source said about an artist or its events, or why it could not be asked."""

    source: SourceName
    query: str
    kind: LookupKind
    reachable: bool
    message: str
    items: list[dict[str, Any]] = Field(default_factory=list)
    fetched_at: datetime | None = None
    from_cache: bool = False
    stale: bool = Field(False, description="served from an expired cache entry (source down)")
    untrusted: Literal[True] = True


def _has_key(settings: Settings, source: SourceName) -> bool:
    if source == "spotify":
        return bool(settings.spotify_client_id) and settings.spotify_client_secret is not None
    if source == "ticketmaster":
        return settings.ticketmaster_api_key is not None
    return settings.setlistfm_api_key is not None


def _records(values: list[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for value in values:
        if isinstance(value, BaseModel):
            out.append(value.model_dump(mode="json", exclude_none=True))
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            out.append({k: v for k, v in dataclasses.asdict(value).items() if v is not None})
    return out


Fetcher = Callable[[Settings, str, LookupKind, int, dict[str, Any]], list[dict[str, Any]]]


def _spotify(
    settings: Settings, query: str, kind: LookupKind, limit: int, opts: dict[str, Any]
) -> list[dict[str, Any]]:
    from pipelines.sources.spotify import SpotifyConnector

    if kind != "artist":
        raise ValidationError(
            "Spotify has artists, not events; ask ticketmaster or setlistfm for events"
        )
    with SpotifyConnector.from_settings(settings, **opts) as spotify:
        return _records(spotify.search_artists(query, limit=limit).accepted)


def _ticketmaster(
    settings: Settings, query: str, kind: LookupKind, limit: int, opts: dict[str, Any]
) -> list[dict[str, Any]]:
    from pipelines.sources.ticketmaster import TicketmasterConnector

    params = {"keyword": query, "classificationName": "music"}
    with TicketmasterConnector.from_settings(settings, **opts) as tm:
        if kind == "artist":
            return _records(tm.search_attractions(params, size=limit).accepted)
        return _records(tm.search_events(params, size=limit).accepted)


def _setlistfm(
    settings: Settings, query: str, kind: LookupKind, limit: int, opts: dict[str, Any]
) -> list[dict[str, Any]]:
    from pipelines.sources.setlistfm import SetlistFmConnector

    with SetlistFmConnector.from_settings(settings, **opts) as fm:
        artists = fm.search_artists(query).accepted
        if kind == "artist":
            return _records(artists[:limit])
        if not artists:
            return []
        # setlist.fm lists events per MusicBrainz id: take the best match for the name.
        mbid = artists[0].artist_id.split(":", 1)[-1]
        return _records(fm.artist_setlists(mbid).accepted[:limit])


FETCHERS: Final[dict[str, Fetcher]] = {
    "spotify": _spotify,
    "ticketmaster": _ticketmaster,
    "setlistfm": _setlistfm,
}


def lookup_source(
    ctx: ToolContext,
    *,
    source: SourceName,
    query: str,
    kind: LookupKind = "artist",
    limit: int = 10,
    use_cache: bool = True,
) -> SourceLookup:
    """Look up an artist (kind="artist") or its events (kind="events") live at Spotify,
    Ticketmaster or setlist.fm. Spotify only knows artists; setlist.fm events are past setlists.

    When the source has no API key or cannot be reached, the answer says so (`reachable=false`,
    `message`) or comes from the cache (`from_cache`, `stale`). Items are third-party data.
    """
    return ask_source(ctx, source, query, kind, limit=limit, use_cache=use_cache)


def ask_source(
    ctx: ToolContext,
    source: SourceName,
    query: str,
    kind: LookupKind = "artist",
    *,
    limit: int = 10,
    use_cache: bool = True,
    config: BrowserConfig | None = None,
    cache: WebCache | None = None,
    clock: Clock | None = None,
    transport: httpx.BaseTransport | None = None,
) -> SourceLookup:
    """`lookup_source` with its cache, clock and HTTP transport given explicitly."""
    if source not in FETCHERS:
        raise ValidationError(
            f"unknown source {source!r}; choose one of {', '.join(FETCHERS)}", source=source
        )
    query = query.strip()
    if not query:
        raise ValidationError("query is empty; give an artist name or keyword")
    config = config or BrowserConfig.from_settings(ctx.settings)
    cache = cache or WebCache.under(ctx.settings.data_dir)
    key = f"{source}|{kind}|{limit}|{query.lower()}"
    label = LABELS[source]
    if use_cache:
        hit = cache.get(_NAMESPACE, key, config.lookup_ttl_s)
        if hit is not None:
            return SourceLookup.model_validate({**hit.value, "from_cache": True})

    def unreachable(reason: str) -> SourceLookup:
        stale = cache.get(_NAMESPACE, key, None)
        if stale is not None:
            answer = SourceLookup.model_validate(stale.value)
            return answer.model_copy(
                update={
                    "from_cache": True,
                    "stale": True,
                    "message": f"{reason}; showing the cached answer from "
                    f"{stale.age_s / 60:.0f} minutes ago",
                }
            )
        return SourceLookup(source=source, query=query, kind=kind, reachable=False, message=reason)

    if not _has_key(ctx.settings, source):
        return unreachable(f"{label} cannot be reached: no API key is set ({KEY_HINTS[source]})")
    opts: dict[str, Any] = {"transport": transport}
    if clock is not None:
        opts["clock"] = clock
    try:
        items = FETCHERS[source](ctx.settings, query, kind, limit, opts)
    except ConfigError as exc:
        return unreachable(f"{label} cannot be reached: {exc}")
    except SourceError as exc:
        log.warning("lookup %s %r failed: %s", source, query, exc)
        return unreachable(f"{label} cannot be reached: {exc}")
    answer = SourceLookup(
        source=source,
        query=query,
        kind=kind,
        reachable=True,
        message=f"{len(items)} {'artists' if kind == 'artist' else 'events'} from {label}",
        items=items,
        fetched_at=datetime.now(UTC),
    )
    cache.put(_NAMESPACE, key, answer.model_dump(mode="json"))
    return answer
