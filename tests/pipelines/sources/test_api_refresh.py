"""Refreshing from the APIs lands the responses raw and loads what they describe."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

from core.settings import Settings
from pipelines.api_refresh import refresh_spotify, refresh_ticketmaster
from tests.conftest import query_warehouse
from tests.pipelines.sources.conftest import TM_KEY, ReplayServer, Reply, nock, spotify


def _one_page(reply: Reply) -> Reply:
    """A recorded page of events as the only page (the recording says 3,779 follow)."""
    body = copy.deepcopy(reply.body)
    body["page"]["totalPages"] = 1
    return Reply(reply.status, body)


def test_ticketmaster_concerts_load_with_their_venues_and_artists(
    api_settings: Settings, server: ReplayServer, shared_data: Path
) -> None:
    server.route("/discovery/v2/events", nock(shared_data, "event_all-200"))
    refresh = refresh_ticketmaster(api_settings, {"classificationName": "music"}, max_pages=1)
    outcomes = refresh.outcomes
    assert [o.entity for o in outcomes] == ["artists", "venues", "concerts"]
    assert all(o.status == "succeeded" for o in outcomes), [o.message for o in outcomes]
    concerts = outcomes[2].run
    assert concerts is not None
    # every event is loaded, quarantined or skipped as not a concert, and the three add up
    assert refresh.received == 20  # events in the recorded response
    assert concerts.accepted + concerts.quarantined + sum(refresh.skipped.values()) == 20
    # the films, games and passes are not concerts: not quarantined, so nothing to alert on
    assert (concerts.records_in, concerts.accepted, concerts.quarantined) == (2, 2, 0)
    assert refresh.note == "18 of 20 events skipped as not concerts (18 not music)"
    assert query_warehouse(api_settings, "SELECT count(*) FROM alerts") == [(0,)]
    recorded = query_warehouse(  # the skips stay on record, with the concerts' run
        api_settings,
        "SELECT name, value, run_id FROM pipeline_metrics WHERE name LIKE 'events_%' ORDER BY 1",
    )
    assert recorded == [("events_received", 20.0, concerts.run_id),
                        ("events_skipped", 18.0, concerts.run_id)]  # fmt: skip
    loaded = query_warehouse(api_settings, "SELECT count(*) FROM concerts")[0][0]
    assert loaded == concerts.accepted
    # only the performers and venues of concerts: no ball teams or films among the artists
    artists = query_warehouse(api_settings, "SELECT name FROM artists ORDER BY name")
    assert [n for (n,) in artists] == [
        "7 Minutes In Heaven", "SayWeCanFly", "Susquehanna Breakdown Music Festival",
    ]  # fmt: skip
    links = query_warehouse(
        api_settings, "SELECT DISTINCT entity_type FROM entity_map WHERE source = 'ticketmaster'"
    )
    assert {t for (t,) in links} == {"artist", "venue", "concert"}
    # the raw zone keeps the response as sent, skipped events included
    landed = api_settings.lake_dir / "raw" / "source=ticketmaster"
    [raw] = list(landed.glob("dt=*/*response-0000.json"))
    response = json.loads(raw.read_text())
    assert response["status"] == 200 and len(response["body"]["_embedded"]["events"]) == 20


def test_a_broken_concert_is_still_quarantined(
    api_settings: Settings, server: ReplayServer, shared_data: Path
) -> None:
    reply = _one_page(nock(shared_data, "event_all-200"))
    events = {e["id"]: e for e in reply.body["_embedded"]["events"]}
    del events["vvG1FZf1Xg_Sex"]["_embedded"]["venues"]  # a real concert, its venue lost
    server.route("/discovery/v2/events", reply)
    refresh = refresh_ticketmaster(api_settings, {"classificationName": "music"}, max_pages=1)
    concerts = refresh.outcomes[-1].run
    assert concerts is not None
    assert (concerts.accepted, concerts.quarantined, refresh.skipped) == (1, 1, {"not music": 18})
    [(record, reasons)] = query_warehouse(
        api_settings, "SELECT record, reasons FROM quarantine WHERE entity = 'concerts'"
    )
    assert "ticketmaster:vvG1FZf1Xg_Sex" in str(record) and "venue_id" in str(reasons)


def test_pipeline_run_skips_what_is_not_a_concert_and_says_so(
    server: ReplayServer, shared_data: Path, tmp_path: Path
) -> None:
    server.route("/discovery/v2/events", _one_page(nock(shared_data, "event_all-200")))
    data_dir = tmp_path / "encore"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENCORE_")}
    env.update(
        ENCORE_DATA_DIR=str(data_dir),
        ENCORE_TICKETMASTER_API_KEY=TM_KEY,
        ENCORE_TICKETMASTER_BASE_URL=f"{server.url}/discovery/v2",
        COLUMNS="250",
    )
    encore = str(Path(sys.executable).parent / "encore")
    for _ in range(2):  # the second run finds nothing new and must not alert either
        done = subprocess.run([encore, "pipeline", "run"], env=env, cwd=tmp_path,
                              capture_output=True, text=True, check=False)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        [row] = [line for line in done.stdout.splitlines() if "ticketmaster" in line]
        assert "done" in row and "18 of 20 events skipped as not concerts (18 not music)" in row
        assert "alert" not in done.stdout + done.stderr
    settings = Settings(_env_file=None, data_dir=data_dir)
    assert query_warehouse(settings, "SELECT count(*) FROM alerts") == [(0,)]
    runs = query_warehouse(
        settings,
        "SELECT records_in, accepted, quarantined FROM pipeline_runs WHERE entity = 'concerts'",
    )
    assert runs == [(2, 2, 0)]


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
    music = {"primary": True, "segment": {"id": "KZFzniwnSyZfZ7v7nJ", "name": "Music"}}
    for event in reply.body["_embedded"]["events"]:  # a show naming no attraction: made concerts
        event["_embedded"]["attractions"] = [{"id": "K8vZ917Kew0", "name": "Ballet Folklorico"}]
        event["classifications"] = [music]
    server.route("/discovery/v2/events", reply)
    outcomes = refresh_ticketmaster(api_settings, {"city": "Mexico"}, max_pages=1).outcomes
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
