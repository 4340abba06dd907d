"""A real lake for lake-engine and tiering tests: files ingested by `ingest_files` on past days."""

from __future__ import annotations

import csv
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest

from core.settings import Settings
from pipelines import ingest
from pipelines.ingest import ingest_files

DAYS_AGO = (100, 60, 2)
"""Load days of the lake, in days before today: two old raw partitions and one fresh."""

HEADER = ["Artist ID", "Artist Name", "Primary Genre", "Country", "Popularity", "Followers"]


def day(ago: int) -> date:
    return date.today() - timedelta(days=ago)


def artists_on(ago: int) -> list[list[str]]:
    """The artists file of one day: `ago // 10 + 1` artists, ids unique to the day."""
    return [
        [f"a{ago}-{i}", f"Band {ago}-{i}", "rock", "US", str(10 + i), str(1000 * (i + 1))]
        for i in range(ago // 10 + 1)
    ]


_BUILT: dict[int, Settings] = {}


def ingested_lake(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A lake and warehouse written by `build_lake`, once per test session (treat as read-only;
    take `copy_lake` to write or to start with an empty access log)."""
    key = id(tmp_path_factory)  # one factory per session
    if key not in _BUILT:
        folder = tmp_path_factory.mktemp("ingested-lake")
        settings = Settings(data_dir=folder / "encore")
        build_lake(settings, folder)
        _BUILT[key] = settings
    return _BUILT[key]


def copy_lake(source: Settings, folder: Path) -> Settings:
    """A private copy of a lake and its warehouse, without the source's logs of reads."""
    settings = Settings(data_dir=folder / "encore")
    shutil.copytree(
        source.data_dir,
        settings.data_dir,
        ignore=shutil.ignore_patterns("lake_access.sqlite*", "audit.sqlite*"),
    )
    return settings


def build_lake(settings: Settings, folder: Path) -> None:
    """Ingest an artists file from source `crm` on each of DAYS_AGO and a venues file from
    `files` 60 days ago, with the clock of `ingest` set back so each lands in its day."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        for ago in DAYS_AGO:
            _ingest_day(settings, folder, monkeypatch, ago)


def _ingest_day(
    settings: Settings, folder: Path, monkeypatch: pytest.MonkeyPatch, ago: int
) -> None:
    past = day(ago)

    class _Past(date):
        @classmethod
        def today(cls) -> _Past:
            return cls(past.year, past.month, past.day)

    monkeypatch.setattr(ingest, "date", _Past)
    path = folder / f"artists-{ago}.csv"
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows([HEADER, *artists_on(ago)])
    outcomes = ingest_files(settings, [path], source="crm")
    if ago == 60:
        venues = folder / "venues.csv"
        with venues.open("w", newline="") as fh:
            csv.writer(fh).writerows([
                ["venue_id", "venue_name", "city", "state", "country", "capacity", "type"],
                ["v1", "The Lantern Room", "NYC", "New York", "United States", "650", "Club"],
            ])  # fmt: skip
        outcomes += ingest_files(settings, [venues], source="files")
    assert all(o.status == "succeeded" for o in outcomes), [o.message for o in outcomes]
