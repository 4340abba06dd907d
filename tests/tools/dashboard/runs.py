"""Real pipeline runs for the dashboard tests: files ingested into a copy of the small warehouse.

Three sources: `crm` (5 artists, 2 quarantined), `landing` (2 clean artists) and `partner-feed`
(a venues file whose columns fit nothing, so its run fails and raises a critical alert).
"""

from __future__ import annotations

import csv
from pathlib import Path

from core.settings import Settings
from pipelines.ingest import ingest_files
from tests.conftest import copy_warehouse

CRM_ARTISTS = [
    ["Artist ID", "Artist Name", "Primary Genre", "Country", "Popularity", "Followers"],
    ["d1", "Rolling Stones, The", "Rock", "GB", "81", "14,200,000"],
    ["d2", "Velvet Wolves", "Indie", "us", "44", "52000"],
    ["d3", "", "pop", "US", "50", "1000"],  # no name
    ["d4", "Loud Noise", "metal", "US", "140", "n/a"],  # popularity and followers
    ["d5", "Quiet Harbour", "folk", "IE", "30", "9000"],
]
LANDING_ARTISTS = [
    ["artist_id", "name", "genre", "country"],
    ["d6", "Northern Static", "electronic", "NO"],
    ["d7", "Paper Lanterns", "indie", "JP"],
]


def _csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


_INGESTED: dict[Path, Settings] = {}


def ingest_sample_runs(source: Settings, tmp: Path) -> Settings:
    """A private copy of `source` with three real ingestion runs in its ledger.

    The runs happen once per session and source; later callers get a copy of that warehouse
    (the ingestion takes seconds, a copy milliseconds).
    """
    done = _INGESTED.get(source.warehouse_file)
    if done is None:
        original = tmp / "sample-runs"
        original.mkdir()
        done = _INGESTED[source.warehouse_file] = _ingest(source, original)
    return copy_warehouse(done, tmp)


def _ingest(source: Settings, tmp: Path) -> Settings:
    settings = copy_warehouse(source, tmp)
    files = tmp / "files"
    files.mkdir()
    crm = ingest_files(settings, [_csv(files / "crm_artists.csv", CRM_ARTISTS)], source="crm")
    landing = ingest_files(
        settings, [_csv(files / "new_artists.csv", LANDING_ARTISTS)], source="landing"
    )
    bad = files / "venues.csv"
    bad.write_text("foo,bar\n1,2\n")
    failed = ingest_files(settings, [bad], entity="venues", source="partner-feed")
    assert [o.status for o in (*crm, *landing, *failed)] == ["succeeded", "succeeded", "failed"]
    return settings
