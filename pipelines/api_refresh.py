"""Refreshing from the APIs: fetch, land the responses raw, ingest what they describe.

The responses are stored in the lake's raw zone exactly as received (requirement 1.1). The
records they describe go through the same ingestion path as files, so they are validated,
resolved to canonical entities and loaded the same way; what a connector could not map is
quarantined there with its reasons rather than dropped.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from core.settings import Settings
from pipelines.ingest import FileOutcome, ingest_files
from pipelines.lake import open_lake
from pipelines.lake.base import raw_key
from pipelines.ledger import new_run_id
from pipelines.sources.base import Batch, RawPayload, dig
from pipelines.sources.setlistfm import SetlistFmConnector
from pipelines.sources.spotify import SpotifyConnector
from pipelines.sources.ticketmaster import TicketmasterConnector, map_attraction, map_venue


def refresh_ticketmaster(
    settings: Settings,
    params: Mapping[str, Any],
    *,
    max_pages: int = 5,
    connector: TicketmasterConnector | None = None,
) -> list[FileOutcome]:
    """Load the events matching `params`, with the venues and attractions embedded in them."""
    tm = connector or TicketmasterConnector.from_settings(settings)
    try:
        events = tm.search_events(params, size=200, max_pages=max_pages)
    finally:
        if connector is None:
            tm.close()
    venues: dict[str, dict[str, Any]] = {}
    artists: dict[str, dict[str, Any]] = {}
    for payload in events.raw:
        for event in dig(payload.body, "_embedded", "events") or []:
            for venue in dig(event, "_embedded", "venues") or []:
                record = map_venue(venue)
                venues[str(record.get("venue_id"))] = record
            for attraction in dig(event, "_embedded", "attractions") or []:
                record = map_attraction(attraction)
                artists[str(record.get("artist_id"))] = record
    concerts = [_as_record(r) for r in events.accepted] + [dict(r.record) for r in events.rejects]
    return _land_and_ingest(
        settings,
        "ticketmaster",
        events.raw,
        {"artists": list(artists.values()), "venues": list(venues.values()), "concerts": concerts},
    )


def refresh_spotify(
    settings: Settings, spotify_ids: Iterable[str], *, connector: SpotifyConnector | None = None
) -> list[FileOutcome]:
    """Update popularity, followers and genre of artists known by their Spotify ids."""
    client = connector or SpotifyConnector.from_settings(settings)
    try:
        batch: Batch[Any] = client.get_artists(spotify_ids)
    finally:
        if connector is None:
            client.close()
    artists = [_as_record(r) for r in batch.accepted] + [dict(r.record) for r in batch.rejects]
    return _land_and_ingest(settings, "spotify", batch.raw, {"artists": artists})


def refresh_setlistfm(
    settings: Settings,
    artist_mbids: Iterable[str],
    *,
    max_pages: int = 2,
    connector: SetlistFmConnector | None = None,
) -> list[FileOutcome]:
    """Load the shows in artists' setlists as concert listings (artist, venue, city, date)."""
    client = connector or SetlistFmConnector.from_settings(settings)
    payloads: list[RawPayload] = []
    listings: list[dict[str, Any]] = []
    try:
        for mbid in artist_mbids:
            batch = client.artist_setlists(mbid, max_pages=max_pages)
            payloads += batch.raw
            listings += [
                {
                    "artist": s.artist_name,
                    "venue": s.venue_name,
                    "city": s.city,
                    "country": s.country,
                    "event_date": s.event_date.isoformat(),
                    "tour_name": s.tour_name,
                }
                for s in batch.accepted
            ]
            listings += [dict(r.record) for r in batch.rejects]
    finally:
        if connector is None:
            client.close()
    return _land_and_ingest(settings, "setlistfm", payloads, {"concert_listings": listings})


def _as_record(entity: Any) -> dict[str, Any]:
    record: dict[str, Any] = entity.model_dump(mode="json")
    return record


def _land_and_ingest(
    settings: Settings,
    source: str,
    payloads: list[RawPayload],
    records: dict[str, list[dict[str, Any]]],
) -> list[FileOutcome]:
    lake = open_lake(settings)
    fetch_id = new_run_id()
    with tempfile.TemporaryDirectory(prefix=f"encore-{source}-") as tmp:
        folder = Path(tmp)
        for i, payload in enumerate(payloads):
            path = folder / f"response-{i:04d}.json"
            path.write_text(
                json.dumps({"url": payload.url, "status": payload.status,
                            "fetched_at": payload.fetched_at.isoformat(), "body": payload.body}),
                encoding="utf-8",
            )  # fmt: skip
            lake.put("raw", raw_key(source, date.today(), fetch_id, path.name), path)
        paths = []
        for entity, rows in records.items():
            if not rows:
                continue
            path = folder / f"{source}-{entity}-{fetch_id}.jsonl"
            path.write_text("".join(json.dumps(r, default=str) + "\n" for r in rows), "utf-8")
            paths.append((path, entity))
        outcomes = []
        for path, entity in paths:  # artists and venues before the concerts that use them
            outcomes += ingest_files(
                settings, [path], entity=entity, source=source, alerts_per_file=False
            )
        return outcomes
