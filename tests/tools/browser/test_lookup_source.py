"""lookup_source against a loopback server replaying real Spotify, Ticketmaster, setlist.fm data."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import ValidationError
from core.settings import Settings
from tests.pipelines.sources.conftest import (
    FakeClock,
    ReplayServer,
    Reply,
    nock,
    setlistfm,
    spotify,
)
from tests.tools.browser.conftest import FakeNow
from tools.browser import BrowserConfig, WebCache, ask_source, lookup_source
from tools.context import ToolContext

BABYMETAL = "27e2997f-f7a1-4353-bcc4-57b9274fa9a4"


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    replay = ReplayServer()
    yield replay
    replay.close()


def settings_for(base: str, data_dir: Path) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=data_dir,
        ticketmaster_api_key="tm-SECRET-key",
        ticketmaster_base_url=f"{base}/discovery/v2",
        spotify_client_id="spotify-client-id",
        spotify_client_secret="sp-SECRET",
        spotify_base_url=f"{base}/v1",
        spotify_token_url=f"{base}/api/token",
        setlistfm_api_key="fm-SECRET-key",
        setlistfm_base_url=f"{base}/rest/1.0",
        http_timeout_s=2.0,
    )


@pytest.fixture
def api_ctx(server: ReplayServer, tmp_path: Path) -> ToolContext:
    return ToolContext(settings_for(server.url, tmp_path / "encore"))


def dead_url() -> str:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def ask(ctx: ToolContext, cache: WebCache, **kw: object):
    return ask_source(
        ctx,
        config=BrowserConfig(lookup_ttl_s=60),
        cache=cache,
        clock=FakeClock(),
        **kw,  # type: ignore[arg-type]
    )


def test_spotify_artist_search(api_ctx, server, shared_data, cache) -> None:
    server.route("/api/token", Reply(200, {"access_token": "t", "expires_in": 3600}), method="POST")
    body = spotify(shared_data, "spotify-web-api-java/SearchArtistsRequest")
    server.route("/v1/search", Reply(200, body))
    answer = ask(api_ctx, cache, source="spotify", query="Muse")
    assert answer.reachable and not answer.from_cache
    names = [item["name"] for item in answer.items]
    assert "Muse" in names and len(names) == len(body["artists"]["items"])
    assert answer.message == f"{len(names)} artists from Spotify"
    assert server.requests("/v1/search")[0].query["q"] == "Muse"


def test_ticketmaster_events_and_artists(api_ctx, server, shared_data, cache) -> None:
    server.route("/discovery/v2/events", nock(shared_data, "event_all-200"))
    server.route("/discovery/v2/attractions", nock(shared_data, "attraction_all-200"))
    events = ask(api_ctx, cache, source="ticketmaster", query="festival", kind="events")
    assert events.reachable and events.items
    assert all(item["concert_id"].startswith("ticketmaster:") for item in events.items)
    artists = ask(api_ctx, cache, source="ticketmaster", query="!!!", kind="artist")
    assert artists.items[0]["name"] == "!!!"
    assert server.requests("/discovery/v2/events")[0].query["keyword"] == "festival"


def test_setlistfm_events_go_through_the_best_matching_artist(
    api_ctx, server, shared_data, cache
) -> None:
    server.route(
        "/rest/1.0/search/artists", Reply(200, setlistfm(shared_data, "search_artists_200"))
    )
    server.route(
        f"/rest/1.0/artist/{BABYMETAL}/setlists",
        Reply(200, setlistfm(shared_data, "artist_setlists_200_page1")),
    )
    answer = ask(api_ctx, cache, source="setlistfm", query="Babymetal", kind="events", limit=5)
    assert answer.reachable and len(answer.items) == 5
    assert server.requests(f"/rest/1.0/artist/{BABYMETAL}/setlists")


def test_results_are_cached_until_ttl(api_ctx, server, shared_data, cache, now: FakeNow) -> None:
    server.route("/discovery/v2/attractions", nock(shared_data, "attraction_all-200"))
    first = ask(api_ctx, cache, source="ticketmaster", query="!!!")
    second = ask(api_ctx, cache, source="ticketmaster", query="!!!")
    assert (first.from_cache, second.from_cache) == (False, True)
    assert second.items == first.items
    assert len(server.requests("/discovery/v2/attractions")) == 1
    now.advance(61)
    ask(api_ctx, cache, source="ticketmaster", query="!!!")
    assert len(server.requests("/discovery/v2/attractions")) == 2


def test_without_a_key_the_answer_says_what_to_set(ctx, cache) -> None:
    answer = ask(ctx, cache, source="spotify", query="Muse")
    assert answer.reachable is False and answer.items == []
    assert answer.message == (
        "Spotify cannot be reached: no API key is set (ENCORE_SPOTIFY_CLIENT_ID/SECRET)"
    )
    tm = ask(ctx, cache, source="ticketmaster", query="Muse", kind="events")
    assert "ENCORE_TICKETMASTER_API_KEY" in tm.message and not tm.reachable


def test_unreachable_source_answers_from_stale_cache(
    api_ctx, server, shared_data, cache, now: FakeNow, tmp_path
) -> None:
    server.route("/discovery/v2/attractions", nock(shared_data, "attraction_all-200"))
    fresh = ask(api_ctx, cache, source="ticketmaster", query="!!!")
    now.advance(3600)
    down = ToolContext(settings_for(dead_url(), tmp_path / "encore"))
    stale = ask(down, cache, source="ticketmaster", query="!!!")
    assert stale.from_cache and stale.stale
    assert stale.items == fresh.items
    assert stale.message.startswith("Ticketmaster cannot be reached")
    assert "cached answer from 60 minutes ago" in stale.message


def test_unreachable_source_without_cache_is_not_an_error(tmp_path, cache) -> None:
    down = ToolContext(settings_for(dead_url(), tmp_path / "encore"))
    answer = ask(down, cache, source="setlistfm", query="Babymetal")
    assert answer.reachable is False
    assert answer.message.startswith("setlist.fm cannot be reached:")
    assert "fm-SECRET-key" not in answer.message


def test_spotify_has_no_events(api_ctx, cache) -> None:
    with pytest.raises(ValidationError, match="Spotify has artists, not events"):
        ask(api_ctx, cache, source="spotify", query="Muse", kind="events")


def test_public_tool_without_a_key_uses_the_data_dir_cache(ctx) -> None:
    answer = lookup_source(ctx, source="setlistfm", query="Babymetal", kind="events")
    assert answer.reachable is False
    assert answer.message == (
        "setlist.fm cannot be reached: no API key is set (ENCORE_SETLISTFM_API_KEY)"
    )
