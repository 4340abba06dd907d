"""Spotify connector against recorded Web API responses, with a client-credentials token server."""

from __future__ import annotations

import base64
import copy
import logging
import random
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from core.errors import ConfigError, SourceError
from core.settings import Settings
from pipelines.sources.http import error_reason
from pipelines.sources.resilience import RetryPolicy
from pipelines.sources.spotify import SpotifyConnector
from tests.pipelines.sources.conftest import (
    SPOTIFY_ID,
    SPOTIFY_SECRET,
    FakeClock,
    ReplayServer,
    Reply,
    spotify,
)

TOKEN = "/api/token"
PITBULL = "0TnOYISbd1XYRBk9myaseg"


def token(value: str, expires_in: int = 3600) -> Reply:
    return Reply(200, {"access_token": value, "token_type": "Bearer", "expires_in": expires_in})


@pytest.fixture
def sp(api_settings: Settings, clock: FakeClock):
    connector = SpotifyConnector.from_settings(
        api_settings,
        clock=clock,
        rng=random.Random(3),
        retry=RetryPolicy(max_attempts=3),
        trust_env=False,
    )
    with connector:
        yield connector


def bearer(server: ReplayServer, path: str) -> list[str]:
    return [r.headers["authorization"] for r in server.requests(path)]


def test_token_is_fetched_once_and_cached(sp, server: ReplayServer, shared_data: Path) -> None:
    server.route(TOKEN, token("tok-1"), method="POST")
    server.route(
        f"/v1/artists/{PITBULL}", Reply(200, spotify(shared_data, "zmb3-spotify/find_artist"))
    )
    for _ in range(3):
        sp.get_artist(PITBULL)
    [fetch] = server.requests(TOKEN)
    assert parse_qs(fetch.body) == {"grant_type": ["client_credentials"]}
    expected = base64.b64encode(f"{SPOTIFY_ID}:{SPOTIFY_SECRET}".encode()).decode()
    assert fetch.headers["authorization"] == f"Basic {expected}"
    assert bearer(server, f"/v1/artists/{PITBULL}") == ["Bearer tok-1"] * 3


def test_token_is_refreshed_before_it_expires(sp, server, clock, shared_data) -> None:
    server.route(TOKEN, token("tok-1"), token("tok-2"), method="POST")
    server.route(
        f"/v1/artists/{PITBULL}", Reply(200, spotify(shared_data, "zmb3-spotify/find_artist"))
    )
    sp.get_artist(PITBULL)
    clock.advance(3500)  # 100 s left: the cached token is still used
    sp.get_artist(PITBULL)
    clock.advance(50)  # 50 s left, inside the 60 s refresh margin: a new token
    sp.get_artist(PITBULL)
    assert bearer(server, f"/v1/artists/{PITBULL}") == [
        "Bearer tok-1", "Bearer tok-1", "Bearer tok-2",
    ]  # fmt: skip


def test_401_refreshes_the_token_and_retries(sp, server, shared_data) -> None:
    server.route(TOKEN, token("revoked"), token("tok-2"), method="POST")
    artist = Reply(200, spotify(shared_data, "spotify-web-api-java/GetArtistRequest"))
    server.route("/v1/artists/0OdUWJ0sBjDrqHygGUXeCF", Reply(401, {"error": "expired"}), artist)
    batch = sp.get_artist("0OdUWJ0sBjDrqHygGUXeCF")
    assert batch is not None and batch.accepted[0].name == "Band of Horses"
    assert bearer(server, "/v1/artists/0OdUWJ0sBjDrqHygGUXeCF") == [
        "Bearer revoked",
        "Bearer tok-2",
    ]


def test_credentials_refused_is_a_clear_error(sp, server, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    server.route(TOKEN, Reply(400, {"error": "invalid_client"}), method="POST")
    with pytest.raises(SourceError, match="invalid_client") as caught:
        sp.get_artist(PITBULL)
    assert caught.value.detail["source"] == "spotify-token"
    server.route(TOKEN, token("tok-1"), method="POST")
    server.route(f"/v1/artists/{PITBULL}", Reply(401))
    with pytest.raises(SourceError, match="ENCORE_SPOTIFY_CLIENT_SECRET") as caught:
        sp.get_artist(PITBULL)
    assert error_reason(caught.value) == "unauthorized"
    assert SPOTIFY_SECRET not in f"{caught.value} {caplog.text}"


def test_artist_maps_followers_popularity_and_genre(sp, server, shared_data) -> None:
    server.route(TOKEN, token("tok-1"), method="POST")
    body = spotify(shared_data, "spotify-web-api-java/GetArtistRequest")
    server.route("/v1/artists/0OdUWJ0sBjDrqHygGUXeCF", Reply(200, body))
    batch = sp.get_artist("0OdUWJ0sBjDrqHygGUXeCF")
    assert batch is not None
    [artist] = batch.accepted
    assert artist.artist_id == "spotify:0OdUWJ0sBjDrqHygGUXeCF"
    assert artist.spotify_id == "0OdUWJ0sBjDrqHygGUXeCF"
    assert (artist.genre, artist.followers) == ("indie folk", 306565)
    assert artist.popularity == body["popularity"]
    assert batch.raw[0].body == body


def test_artist_without_genres_is_accepted_with_genre_none(sp, server, shared_data) -> None:
    server.route(TOKEN, token("tok-1"), method="POST")
    server.route(
        f"/v1/artists/{PITBULL}", Reply(200, spotify(shared_data, "zmb3-spotify/find_artist"))
    )
    batch = sp.get_artist(PITBULL)
    assert batch is not None and not batch.rejects
    [artist] = batch.accepted  # Spotify lists no genres for Pitbull: unknown, not invalid
    assert (artist.artist_id, artist.name) == (f"spotify:{PITBULL}", "Pitbull")
    assert artist.genre is None
    assert (artist.popularity, artist.followers) == (97, 2265279)
    assert artist.spotify_id == PITBULL


def test_out_of_range_popularity_is_a_reject(sp, server, shared_data) -> None:
    server.route(TOKEN, token("tok-1"), method="POST")
    body = copy.deepcopy(spotify(shared_data, "zmb3-spotify/find_artist"))
    body["popularity"] = 197  # Spotify's popularity is 0-100
    server.route(f"/v1/artists/{PITBULL}", Reply(200, body))
    batch = sp.get_artist(PITBULL)
    assert batch is not None and not batch.accepted
    [reject] = batch.rejects
    assert [field for field, _ in reject.reasons] == ["popularity"]
    assert "197" in reject.reasons[0][1]
    assert (reject.source_id, reject.record["name"]) == (PITBULL, "Pitbull")
    assert reject.record["genre"] is None and reject.record["followers"] == 2265279


def test_negative_followers_is_a_reject(sp, server, shared_data) -> None:
    server.route(TOKEN, token("tok-1"), method="POST")
    body = copy.deepcopy(spotify(shared_data, "zmb3-spotify/find_artist"))
    body["followers"]["total"] = -2265279
    server.route(f"/v1/artists/{PITBULL}", Reply(200, body))
    batch = sp.get_artist(PITBULL)
    assert batch is not None and not batch.accepted
    [reject] = batch.rejects
    assert [field for field, _ in reject.reasons] == ["followers"]


def test_unknown_artist_is_none(sp, server) -> None:
    server.route(TOKEN, token("tok-1"), method="POST")
    server.route("/v1/artists/nope", Reply(404, {"error": {"status": 404, "message": "not found"}}))
    assert sp.get_artist("nope") is None


def test_several_artists(sp, server, shared_data) -> None:
    server.route(TOKEN, token("tok-1"), method="POST")
    body = copy.deepcopy(spotify(shared_data, "spotify-web-api-java/GetSeveralArtistsRequest"))
    body["artists"].append(None)  # what Spotify answers for an id it does not know
    server.route("/v1/artists", Reply(200, body))
    batch = sp.get_artists(["0oSGxfWSnnOXhD2fKuz2Gy", "3dBVyJ7JuOMt4GE9607Qin", "unknown"])
    assert server.requests("/v1/artists")[0].query["ids"] == (
        "0oSGxfWSnnOXhD2fKuz2Gy,3dBVyJ7JuOMt4GE9607Qin,unknown"
    )
    assert [(a.name, a.genre, a.followers) for a in batch.accepted] == [
        ("David Bowie", "art rock", 633494),
        ("T. Rex", "glam rock", 52338),
    ]
    assert [r.source_id for r in batch.rejects] == ["unknown"]


def test_followers_serialised_as_floats(sp, server, shared_data) -> None:
    server.route(TOKEN, token("tok-1"), method="POST")
    body = spotify(shared_data, "zmb3-spotify/related_artists_with_floats")
    server.route("/v1/artists", Reply(200, body))
    batch = sp.get_artists(a["id"] for a in body["artists"])
    everly = next(a for a in batch.accepted if a.name == "The Everly Brothers")
    assert everly.followers == 33920 and isinstance(everly.followers, int)
    assert len(batch) == 20


def test_search_follows_offset_paging(sp, server, shared_data) -> None:
    server.route(TOKEN, token("tok-1"), method="POST")
    first = spotify(shared_data, "spotify-web-api-java/SearchArtistsRequest")  # has `next`
    last = spotify(shared_data, "zmb3-spotify/search_artist")  # `next` is null
    server.route("/v1/search", Reply(200, first), offset=0)
    server.route("/v1/search", Reply(200, last), offset=10)
    batch = sp.search_artists("muse", limit=10, max_pages=5)
    queries = [r.query for r in server.requests("/v1/search")]
    assert [(q["q"], q["type"], q["offset"]) for q in queries] == [
        ("muse", "artist", "0"), ("muse", "artist", "10"),
    ]  # fmt: skip
    assert len(batch) == 11 and len(batch.raw) == 2
    assert len(batch.accepted) == 11 and not batch.rejects  # genre-less artists are kept too
    by_name = {a.name: a for a in batch.accepted}
    assert [(a.name, a.genre) for a in batch.accepted if a.genre] == [
        ("Dangerous Muse", "alternative dance"),
        ("Celtic Muse", "harp"),
    ]
    assert (by_name["Muse"].genre, by_name["Muse"].followers) == (None, 5072)
    # the search result carries no followers for Tania Bowra: None, not 0
    bowra = by_name["Tania Bowra"]
    assert (bowra.genre, bowra.popularity, bowra.followers) == (None, 0, None)


def test_top_tracks(sp, server, shared_data) -> None:
    server.route(TOKEN, token("tok-1"), method="POST")
    elvis = "43ZHCT0cAZBISjO8DG9PnE"
    body = spotify(shared_data, "zmb3-spotify/artist_top_tracks")
    server.route(f"/v1/artists/{elvis}/top-tracks", Reply(200, body))
    batch = sp.artist_top_tracks(elvis, market="SE")
    assert server.requests()[-1].query == {"market": "SE"}
    assert len(batch.accepted) == 10 and not batch.rejects
    first = batch.accepted[0]
    assert (first.name, first.popularity) == ("Suspicious Minds", 73)
    assert first.album == body["tracks"][0]["album"]["name"]


def test_missing_credentials_are_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ENCORE_SPOTIFY_CLIENT_ID"):
        SpotifyConnector.from_settings(Settings(_env_file=None, data_dir=tmp_path))


def test_search_stops_at_the_offset_limit(sp, server, shared_data) -> None:
    server.route(TOKEN, token("tok-1"), method="POST")
    page = spotify(shared_data, "spotify-web-api-java/SearchArtistsRequest")  # always has `next`
    server.route("/v1/search", Reply(200, page))
    sp.search_artists("muse", limit=50, max_pages=100)
    offsets = [int(r.query["offset"]) for r in server.requests("/v1/search")]
    assert offsets == list(range(0, 1000, 50))  # offset + limit never passes 1000
