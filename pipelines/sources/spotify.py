"""Spotify Web API: artists (by id, several ids, search) and their top tracks.

Authentication is the client-credentials flow: one access token, cached and refreshed a minute
before it expires, or at once when the API answers 401 (revoked or expired early).
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

import httpx

from core.errors import ConfigError, SourceError
from core.schemas import Artist
from core.settings import Settings
from pipelines.sources.base import Batch, collect, compact, obj, source_id
from pipelines.sources.http import HttpClient, error_reason
from pipelines.sources.resilience import Clock, SystemClock

SOURCE: Final = "spotify"
RATE_PER_S: Final = 10.0
"""Spotify publishes no fixed quota (it is a rolling 30 s window); this stays well inside it."""
SEVERAL_ARTISTS_MAX: Final = 50
"""`GET /artists?ids=` accepts at most 50 ids."""
SEARCH_LIMIT_MAX: Final = 50
SEARCH_OFFSET_MAX: Final = 1000
"""Search refuses `offset + limit` beyond 1000; narrow the query to see further."""


class ClientCredentials:
    """Client-credentials access tokens, cached until shortly before they expire."""

    def __init__(
        self,
        http: HttpClient,
        client_id: str,
        client_secret: str,
        *,
        refresh_margin_s: float = 60.0,
    ) -> None:
        self.http = http
        self._basic = httpx.BasicAuth(client_id, client_secret)
        self._margin = refresh_margin_s
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()
        self.fetches = 0  # tokens obtained so far: shows the cache working in metrics and tests

    def token(self) -> str:
        """A valid access token, fetching a new one when none is cached or it is about to expire."""
        with self._lock:
            if self._token is None or self.http.clock.monotonic() >= self._expires_at:
                self._token, lifetime = self._fetch()
                self._expires_at = self.http.clock.monotonic() + max(0.0, lifetime - self._margin)
            return self._token

    def invalidate(self, stale: str) -> None:
        """Forget `stale` (refused with 401) unless another thread has already replaced it."""
        with self._lock:
            if self._token == stale:
                self._token = None

    def _fetch(self) -> tuple[str, float]:
        payload = self.http.request(
            "POST", "", data={"grant_type": "client_credentials"}, auth=self._basic
        )
        self.fetches += 1
        body = payload.body
        token = body.get("access_token") if isinstance(body, Mapping) else None
        if not isinstance(token, str) or not token:
            raise SourceError(
                f"{SOURCE}: token endpoint {payload.url} answered without an access_token",
                reason="invalid_body",
                source=SOURCE,
                url=payload.url,
                status=payload.status,
                attempts=payload.attempts,
            )
        lifetime = body.get("expires_in")
        return token, float(lifetime) if isinstance(lifetime, int | float) else 3600.0


class BearerAuth(httpx.Auth):
    """Adds the access token to each request and retries once with a fresh token on a 401."""

    def __init__(self, credentials: ClientCredentials) -> None:
        self.credentials = credentials

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.credentials.token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            self.credentials.invalidate(token)
            request.headers["Authorization"] = f"Bearer {self.credentials.token()}"
            yield request


@dataclass(frozen=True)
class Track:
    """One of an artist's top tracks."""

    track_id: str
    name: str
    popularity: int | None
    duration_ms: int | None
    album: str | None
    artist_ids: tuple[str, ...]


def map_artist(item: Mapping[str, Any]) -> dict[str, Any]:
    """A Spotify artist as an `Artist` record; the first listed genre is the primary one."""
    genres = [g for g in item.get("genres") or [] if isinstance(g, str) and g.strip()]
    followers = item.get("followers")
    return compact(
        Artist,
        {
            "artist_id": source_id(SOURCE, item["id"]),
            "name": item.get("name"),
            "genre": genres[0].strip().lower() if genres else None,  # many artists have none
            "popularity": item.get("popularity"),
            "followers": followers.get("total") if isinstance(followers, Mapping) else None,
            "spotify_id": item["id"],
        },
    )


def map_track(item: Mapping[str, Any]) -> Track:
    """A Spotify track object as a `Track`."""
    album = item.get("album")
    return Track(
        track_id=str(item["id"]),
        name=str(item["name"]),
        popularity=item.get("popularity"),
        duration_ms=item.get("duration_ms"),
        album=album.get("name") if isinstance(album, Mapping) else None,
        artist_ids=tuple(str(a["id"]) for a in item.get("artists") or [] if isinstance(a, Mapping)),
    )


class SpotifyConnector:
    """Fetches Spotify artists and top tracks and maps artists to Encore's `Artist`."""

    source = SOURCE

    def __init__(self, http: HttpClient, credentials: ClientCredentials | None = None) -> None:
        self.http = http
        self.credentials = credentials

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
        **http_options: Any,
    ) -> SpotifyConnector:
        """Build the connector and its token client from `Settings`."""
        if not settings.spotify_client_id or settings.spotify_client_secret is None:
            raise ConfigError(
                "Spotify needs client credentials: set ENCORE_SPOTIFY_CLIENT_ID and "
                "ENCORE_SPOTIFY_CLIENT_SECRET"
            )
        secret = settings.spotify_client_secret.get_secret_value()
        hint = "check ENCORE_SPOTIFY_CLIENT_ID and ENCORE_SPOTIFY_CLIENT_SECRET"
        common: dict[str, Any] = {
            "timeout_s": settings.http_timeout_s,
            "headers": {"Accept": "application/json"},
            "secrets": (secret,),
            "auth_hint": hint,
            "clock": clock or SystemClock(),
            "transport": transport,
            "rate_per_s": RATE_PER_S,
            "burst": 10,
            **http_options,
        }
        token_http = HttpClient(
            source=f"{SOURCE}-token", base_url=settings.spotify_token_url, **common
        )
        credentials = ClientCredentials(token_http, settings.spotify_client_id, secret)
        http = HttpClient(
            source=SOURCE,
            base_url=settings.spotify_base_url,
            auth=BearerAuth(credentials),
            **common,
        )
        return cls(http, credentials)

    def close(self) -> None:
        if self.credentials is not None:
            self.credentials.http.close()
        self.http.close()

    def __enter__(self) -> SpotifyConnector:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def get_artist(self, artist_id: str) -> Batch[Artist] | None:
        """One artist by Spotify id; None if Spotify does not know it."""
        try:
            payload = self.http.get(f"artists/{quote(artist_id, safe='')}")
        except SourceError as exc:
            if error_reason(exc) == "not_found":
                return None
            raise
        return collect(Batch(SOURCE, "artists", raw=[payload]), Artist, [payload.body], map_artist)

    def get_artists(self, artist_ids: Iterable[str]) -> Batch[Artist]:
        """Several artists by id, 50 per request; unknown ids come back as rejects."""
        ids = list(dict.fromkeys(artist_ids))
        batch: Batch[Artist] = Batch(SOURCE, "artists")
        for start in range(0, len(ids), SEVERAL_ARTISTS_MAX):
            chunk = ids[start : start + SEVERAL_ARTISTS_MAX]
            payload = self.http.get("artists", {"ids": ",".join(chunk)})
            batch.raw.append(payload)
            items = obj(payload.body).get("artists")
            items = items if isinstance(items, list) else []
            for index, requested in enumerate(chunk):
                # Spotify answers `null` in the slot of an id it does not know; a short answer is
                # treated the same, so no requested id goes unaccounted for.
                item = items[index] if index < len(items) else None
                if item is None:
                    batch.reject(
                        None,
                        [("id", f"unknown Spotify artist id {requested!r}")],
                        item_id=requested,
                    )
                else:
                    collect(batch, Artist, [item], map_artist)
        return batch

    def search_artists(self, query: str, *, limit: int = 20, max_pages: int = 1) -> Batch[Artist]:
        """Artists whose name matches `query`, following `offset` paging for `max_pages` pages."""
        limit = min(limit, SEARCH_LIMIT_MAX)
        batch: Batch[Artist] = Batch(SOURCE, "artists")
        for page in range(max_pages):
            if (page + 1) * limit > SEARCH_OFFSET_MAX:
                break
            params = {"q": query, "type": "artist", "limit": limit, "offset": page * limit}
            payload = self.http.get("search", params)
            batch.raw.append(payload)
            artists = obj(obj(payload.body).get("artists"))
            items = artists.get("items")
            collect(batch, Artist, items if isinstance(items, list) else [], map_artist)
            if not items or not artists.get("next"):
                break
        return batch

    def artist_top_tracks(self, artist_id: str, *, market: str = "US") -> Batch[Track]:
        """An artist's most popular tracks in `market` (Spotify requires a market)."""
        payload = self.http.get(
            f"artists/{quote(artist_id, safe='')}/top-tracks", {"market": market}
        )
        batch: Batch[Track] = Batch(SOURCE, "tracks", raw=[payload])
        tracks = obj(payload.body).get("tracks")
        for item in tracks if isinstance(tracks, list) else []:
            try:
                batch.accepted.append(map_track(item))
            except (KeyError, TypeError) as exc:
                batch.reject(item, [("record", f"track without {exc}")])
        return batch
