"""Refreshing from the APIs: fetch, land the responses raw, ingest what they describe.

The responses are stored in the lake's raw zone exactly as received (requirement 1.1). The
records they describe go through the same ingestion path as files, so they are validated,
resolved to canonical entities and loaded the same way; what a connector could not map is
quarantined there with its reasons rather than dropped. What a source sends that is not Encore's
to load (Ticketmaster's films, sports and parking passes) stays in the raw zone and is counted
with its reason in the refresh's result, so the quarantine and its alerts see only real records.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final

from core.settings import Settings
from core.warehouse import connect_writer
from pipelines.ingest import FileOutcome, ingest_files
from pipelines.lake import open_lake
from pipelines.lake.base import raw_key
from pipelines.ledger import new_run_id
from pipelines.monitoring import open_monitor
from pipelines.sources.base import Batch, RawPayload, dig
from pipelines.sources.setlistfm import SetlistFmConnector
from pipelines.sources.spotify import SpotifyConnector
from pipelines.sources.ticketmaster import (
    SkipReason,
    TicketmasterConnector,
    map_attraction,
    map_venue,
    skip_reason,
)

log = logging.getLogger(__name__)

_SKIP_WORDS: Final[Mapping[SkipReason, str]] = {
    "not music": "not music",
    "no performer": "music naming no performer",
}


@dataclass
class EventsRefresh:
    """What a Ticketmaster refresh did: its loads, and the events it skipped as not concerts.

    Every event received was loaded, quarantined (a broken concert) or skipped: the concerts
    load's `accepted + quarantined` and the `skipped` counts add up to `received`.
    """

    outcomes: list[FileOutcome]
    received: int
    """Events in the responses (the raw zone keeps them all)."""
    skipped: dict[SkipReason, int] = field(default_factory=dict)
    """Events that are not concerts, by reason ("not music", "no performer")."""

    @property
    def note(self) -> str:
        """What was skipped, for the run's summary: "18 of 20 events skipped as not concerts
        (18 not music)"; empty when nothing was."""
        total = sum(self.skipped.values())
        if not total:
            return ""
        reasons = ", ".join(f"{n:,} {_SKIP_WORDS[reason]}" for reason, n in self.skipped.items())
        return f"{total:,} of {self.received:,} events skipped as not concerts ({reasons})"


def refresh_ticketmaster(
    settings: Settings,
    params: Mapping[str, Any],
    *,
    max_pages: int = 5,
    connector: TicketmasterConnector | None = None,
) -> EventsRefresh:
    """Load the concerts among the events matching `params`, with their venues and attractions;
    the other events are counted in the result's `skipped` (and kept in the raw zone)."""
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
            # a skipped event's teams, films and venues are not Encore's artists and venues
            if not isinstance(event, Mapping) or skip_reason(event) is not None:
                continue
            for venue in dig(event, "_embedded", "venues") or []:
                record = map_venue(venue)
                venues[str(record.get("venue_id"))] = record
            for attraction in dig(event, "_embedded", "attractions") or []:
                record = map_attraction(attraction)
                artists[str(record.get("artist_id"))] = record
    concerts = [_as_record(r) for r in events.accepted] + [dict(r.record) for r in events.rejects]
    outcomes = _land_and_ingest(
        settings,
        "ticketmaster",
        events.raw,
        {"artists": list(artists.values()), "venues": list(venues.values()), "concerts": concerts},
    )
    refresh = EventsRefresh(outcomes, len(events), events.skipped_by_reason())
    _record_events(settings, refresh)
    if refresh.note:
        segments = Counter(s.segment or "unclassified" for s in events.skipped)
        log.info("ticketmaster: %s; by segment: %s", refresh.note,
                 ", ".join(f"{name} {n}" for name, n in segments.most_common()))  # fmt: skip
    return refresh


def _record_events(settings: Settings, refresh: EventsRefresh) -> None:
    """Store the events received and skipped as metrics of the concerts' run (pipeline_metrics,
    and CloudWatch on AWS), so that the skips stay on record after the command's output."""
    run = next((o.run for o in refresh.outcomes if o.entity == "concerts" and o.run), None)
    con = connect_writer(settings)
    try:
        monitor = open_monitor(settings, con)
        counts = {
            "events_received": refresh.received,
            "events_skipped": sum(refresh.skipped.values()),
        }
        for name, value in counts.items():
            monitor.metric(name, float(value), unit="count", run_id=run.run_id if run else None,
                           dimensions={"pipeline": "ingest", "source": "ticketmaster"})  # fmt: skip
        monitor.flush()
    finally:
        con.close()


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
