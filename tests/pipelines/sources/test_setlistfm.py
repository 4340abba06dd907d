"""setlist.fm connector against recorded REST API 1.0 responses."""

from __future__ import annotations

import copy
import random
from datetime import date
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.settings import Settings
from pipelines.sources.resilience import RetryPolicy
from pipelines.sources.setlistfm import SetlistFmConnector, map_venue
from tests.pipelines.sources.conftest import FM_KEY, FakeClock, ReplayServer, Reply, setlistfm

BABYMETAL = "27e2997f-f7a1-4353-bcc4-57b9274fa9a4"
SETLISTS = f"/rest/1.0/artist/{BABYMETAL}/setlists"


@pytest.fixture
def fm(api_settings: Settings, clock: FakeClock):
    connector = SetlistFmConnector.from_settings(
        api_settings,
        clock=clock,
        rng=random.Random(5),
        retry=RetryPolicy(max_attempts=3),
        trust_env=False,
    )
    with connector:
        yield connector


def test_setlists_page_through_results(fm, server: ReplayServer, shared_data: Path) -> None:
    server.route(SETLISTS, Reply(200, setlistfm(shared_data, "artist_setlists_200_page1")), p=1)
    server.route(SETLISTS, Reply(200, setlistfm(shared_data, "artist_setlists_200_page2")), p=2)
    batch = fm.artist_setlists(BABYMETAL, max_pages=2)
    seen = server.requests()
    assert [r.query["p"] for r in seen] == ["1", "2"]
    assert seen[0].headers["x-api-key"] == FM_KEY
    assert seen[0].headers["accept"] == "application/json"
    assert len(batch.accepted) == 40 and not batch.rejects and len(batch.raw) == 2

    first = batch.accepted[0]
    assert first.setlist_id == "53e25fed"
    assert first.event_date == date(2017, 9, 27)
    assert (first.venue_name, first.city, first.country) == ("Saitama Super Arena", "Saitama", "JP")
    assert first.artist_id == f"setlistfm:{BABYMETAL}"
    assert first.tour_name == "BIG FOX FESTIVAL"
    assert first.songs[0] == "BABYMETAL DEATH" and len(first.songs) == 13


def test_paging_stops_at_the_total(fm, server: ReplayServer, shared_data: Path) -> None:
    server.route(
        "/rest/1.0/search/artists", Reply(200, setlistfm(shared_data, "search_artists_200"))
    )
    batch = fm.search_artists("BABYMETAL", max_pages=5)
    assert len(server.requests()) == 1  # total 1, 30 per page
    assert server.requests()[0].query == {"artistName": "BABYMETAL", "p": "1"}
    assert not batch.rejects
    [artist] = batch.accepted  # setlist.fm has no genre, popularity or followers: all None
    assert (artist.artist_id, artist.name) == (f"setlistfm:{BABYMETAL}", "BABYMETAL")
    assert (artist.genre, artist.popularity, artist.followers) == (None, None, None)


def test_artist_without_an_mbid_is_a_reject(fm, server: ReplayServer, shared_data: Path) -> None:
    body = copy.deepcopy(setlistfm(shared_data, "search_artists_200"))
    del body["artist"][0]["mbid"]
    server.route("/rest/1.0/search/artists", Reply(200, body))
    batch = fm.search_artists("BABYMETAL")
    assert not batch.accepted
    [reject] = batch.rejects
    assert reject.reasons[0][0] == "record" and "'mbid'" in reject.reasons[0][1]
    assert reject.item["name"] == "BABYMETAL"


def test_search_without_results_is_empty(fm, server: ReplayServer, shared_data: Path) -> None:
    # setlist.fm answers a search with no results with 404
    server.route(
        "/rest/1.0/search/artists", Reply(404, setlistfm(shared_data, "search_artists_404"))
    )
    batch = fm.search_artists("zzzz-nobody")
    assert len(batch) == 0 and batch.raw == []


def test_setlist_by_id(fm, server: ReplayServer, shared_data: Path) -> None:
    server.route("/rest/1.0/setlist/6bd6ca6e", Reply(200, setlistfm(shared_data, "setlist_200")))
    batch = fm.get_setlist("6bd6ca6e")
    assert batch is not None
    [setlist] = batch.accepted
    assert setlist.event_date == date(2008, 1, 15)
    assert (setlist.artist_name, setlist.artist_tmid) == ("Fotos", 1409118)
    assert (setlist.venue_name, setlist.city, setlist.country) == ("Kulturfabrik", "Krefeld", "DE")
    # 11 + 2 encore songs, one of them untitled
    assert len(setlist.songs) == 12
    assert setlist.songs[-2:] == ("Giganten", "Remmidemmi")


def test_unknown_setlist_is_none(fm, server: ReplayServer) -> None:
    server.route("/rest/1.0/setlist/nope", Reply(404, {"status": 404, "message": "not found"}))
    assert fm.get_setlist("nope") is None


def test_malformed_setlist_is_a_reject(fm, server: ReplayServer, shared_data: Path) -> None:
    body = copy.deepcopy(setlistfm(shared_data, "setlist_200"))
    body["eventDate"] = "2008-01-15"  # not setlist.fm's dd-MM-yyyy
    server.route("/rest/1.0/setlist/6bd6ca6e", Reply(200, body))
    batch = fm.get_setlist("6bd6ca6e")
    assert batch is not None and not batch.accepted
    [reject] = batch.rejects
    assert reject.source_id == "6bd6ca6e" and "2008-01-15" in reject.reasons[0][1]


def test_venue_maps_city_state_country_and_coords(fm, server, shared_data) -> None:
    server.route("/rest/1.0/venue/6bd6ca6e", Reply(200, setlistfm(shared_data, "venue_200")))
    batch = fm.get_venue("6bd6ca6e")
    assert batch is not None and not batch.rejects
    [venue] = batch.accepted
    assert (venue.venue_id, venue.name) == ("setlistfm:6bd6ca6e", "Compaq Center")
    assert (venue.city, venue.state, venue.country) == ("San Jose", "CA", "US")
    # no capacity in the API, and a name that states no type: unknown, so None
    assert (venue.capacity, venue.venue_type) == (None, None)
    # city.coords are San Jose's, not the arena's: not taken as the venue's position
    assert batch.raw[0].body["city"]["coords"] == {"lat": 37.3393857, "long": -121.8949555}
    assert (venue.latitude, venue.longitude) == (None, None)


def test_venue_with_a_malformed_country_code_is_a_reject(fm, server, shared_data) -> None:
    body = copy.deepcopy(setlistfm(shared_data, "venue_200"))
    body["city"]["country"]["code"] = "USA"  # not ISO 3166-1 alpha-2
    server.route("/rest/1.0/venue/6bd6ca6e", Reply(200, body))
    batch = fm.get_venue("6bd6ca6e")
    assert batch is not None and not batch.accepted
    [reject] = batch.rejects
    assert [field for field, _ in reject.reasons] == ["country"]
    assert "'USA'" in reject.reasons[0][1]
    assert reject.record["name"] == "Compaq Center" and reject.record["city"] == "San Jose"


def test_search_venues(fm, server: ReplayServer, shared_data: Path) -> None:
    body = setlistfm(shared_data, "search_venues_200")
    server.route("/rest/1.0/search/venues", Reply(200, body))
    batch = fm.search_venues({"country": "US"})
    assert server.requests()[0].query == {"country": "US", "p": "1"}
    # no capacities in setlist.fm: every venue is accepted with capacity None
    assert len(batch) == 30 and len(batch.accepted) == 30 and not batch.rejects
    venues = {v.name: v for v in batch.accepted}
    meymandi = venues["Meymandi Concert Hall"]
    assert (meymandi.venue_id, meymandi.city, meymandi.state) == (
        "setlistfm:33d618ad",
        "Raleigh",
        "NC",
    )
    assert {v.capacity for v in batch.accepted} == {None}
    # a venue type is taken only from a name that states it
    types = {name: venue.venue_type for name, venue in venues.items()}
    assert types["Centennial Park Amphitheater"] == "amphitheater"
    assert types["Perici Amphitheatre"] == "amphitheater"
    assert types["Globe Theater"] == types["5th Avenue Theatre"] == "theater"
    assert types["The Derby Club"] == "club"
    assert types["Water Hole"] is None and types["Meymandi Concert Hall"] is None


def test_numeric_state_codes_give_way_to_state_names(shared_data: Path) -> None:
    # outside the US, stateCode is a GeoNames number ("07") that means nothing on its own
    venue = setlistfm(shared_data, "setlist_200")["venue"]
    assert map_venue(venue)["state"] == "North Rhine-Westphalia"


def test_missing_key_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ENCORE_SETLISTFM_API_KEY"):
        SetlistFmConnector.from_settings(Settings(_env_file=None, data_dir=tmp_path))
