"""Refreshing from the APIs lands the responses raw and loads what they describe."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from core.settings import Settings
from pipelines.api_refresh import refresh_spotify, refresh_ticketmaster
from tests.conftest import query_warehouse
from tests.pipelines.sources.conftest import ReplayServer, Reply, nock, spotify


def test_ticketmaster_events_load_with_their_venues_and_artists(
    api_settings: Settings, server: ReplayServer, shared_data: Path
) -> None:
    server.route("/discovery/v2/events", nock(shared_data, "event_all-200"))
    outcomes = refresh_ticketmaster(api_settings, {"classificationName": "music"}, max_pages=1)
    assert [o.entity for o in outcomes] == ["artists", "venues", "concerts"]
    assert all(o.status == "succeeded" for o in outcomes), [o.message for o in outcomes]
    total = 20  # events in the recorded response
    concerts = outcomes[2].run
    assert concerts is not None and concerts.records_in == total
    # every event is either loaded or quarantined with its reason, none dropped
    assert concerts.accepted + concerts.quarantined == total
    loaded = query_warehouse(api_settings, "SELECT count(*) FROM concerts")[0][0]
    assert loaded == concerts.accepted > 0
    links = query_warehouse(
        api_settings, "SELECT DISTINCT entity_type FROM entity_map WHERE source = 'ticketmaster'"
    )
    assert {t for (t,) in links} == {"artist", "venue", "concert"}
    landed = api_settings.lake_dir / "raw" / "source=ticketmaster"
    raw = list(landed.glob("dt=*/*response-0000.json"))
    assert len(raw) == 1 and json.loads(raw[0].read_text())["status"] == 200


def test_spotify_refresh_merges_into_the_artists_we_know(
    api_settings: Settings, server: ReplayServer, shared_data: Path, tmp_path: Path
) -> None:
    from pipelines.ingest import ingest_files

    known = tmp_path / "artists.csv"
    known.write_text("artist_id,name,genre\nA1,David Bowie,rock\n")
    ingest_files(api_settings, [known])
    server.route("/api/token", Reply(200, {"access_token": "t", "token_type": "Bearer",
                                            "expires_in": 3600}), method="POST")  # fmt: skip
    body = spotify(shared_data, "spotify-web-api-java/GetSeveralArtistsRequest")
    server.route("/v1/artists", Reply(200, body))
    [outcome] = refresh_spotify(api_settings, ["0oSGxfWSnnOXhD2fKuz2Gy", "3dBVyJ7JuOMt4GE9607Qin"])
    assert outcome.status == "succeeded", outcome.message
    rows = query_warehouse(
        api_settings, "SELECT artist_id, name, followers FROM artists ORDER BY name"
    )
    # Bowie from Spotify is the Bowie we had (same canonical id, followers added); T. Rex is new
    assert rows[0] == ("A1", "David Bowie", 633494)
    assert rows[1][1:] == ("T. Rex", 52338)
    genre = query_warehouse(api_settings, "SELECT genre FROM artists WHERE artist_id = 'A1'")
    assert genre == [("art rock",)]


def test_setlists_become_concert_listings(
    api_settings: Settings, server: ReplayServer, shared_data: Path
) -> None:
    from pipelines.api_refresh import refresh_setlistfm
    from tests.pipelines.sources.conftest import setlistfm

    mbid = "27e2997f-f7a1-4353-bcc4-57b9274fa9a4"
    path = f"/rest/1.0/artist/{mbid}/setlists"
    server.route(path, Reply(200, setlistfm(shared_data, "artist_setlists_200_page1")), p=1)
    server.route(path, Reply(200, setlistfm(shared_data, "artist_setlists_200_page2")), p=2)
    [outcome] = refresh_setlistfm(api_settings, [mbid])
    assert outcome.entity == "concert_listings" and outcome.status == "succeeded", outcome.message
    assert outcome.run is not None and outcome.run.records_in == 40
    shows = query_warehouse(
        api_settings,
        "SELECT v.name, v.city, v.country FROM concerts c JOIN venues v USING (venue_id) "
        "JOIN artists a USING (artist_id) "
        "WHERE a.name = 'BABYMETAL' AND c.event_date = '2017-09-27'",
    )
    assert shows == [("Saitama Super Arena", "Saitama", "JP")]


def test_ticketmaster_prices_and_times_load_normalised(
    api_settings: Settings, server: ReplayServer, shared_data: Path
) -> None:
    reply = nock(shared_data, "event_all-200-options")
    reply.body = copy.deepcopy(reply.body)
    for event in reply.body["_embedded"]["events"]:  # the recording names no attraction
        event["_embedded"]["attractions"] = [{"id": "K8vZ917Kew0", "name": "Ballet Folklorico"}]
    server.route("/discovery/v2/events", reply)
    outcomes = refresh_ticketmaster(api_settings, {"city": "Mexico"}, max_pages=1)
    assert all(o.status == "succeeded" for o in outcomes), [o.message for o in outcomes]
    rows = query_warehouse(
        api_settings,
        "SELECT c.event_date, c.starts_at, c.price_min, c.currency, v.timezone FROM concerts c "
        "JOIN venues v USING (venue_id) ORDER BY c.starts_at",
    )
    assert len(rows) == 5
    # prices stay in pesos, named as such; the start is the UTC instant of 20:30 local time
    assert {(str(price), currency, zone) for _, _, price, currency, zone in rows} == {
        ("136.00", "MXN", "America/Mexico_City")
    }
    first = rows[0]
    assert (str(first[0]), str(first[1])) == ("2016-08-23", "2016-08-24 01:30:00")
