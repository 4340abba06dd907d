"""The lake's access log: which partitions the lake engine read, and when (requirement 7.5).

Tiering keeps a partition hot while it is being read, however old it is; this log is what tells
it. Kept in SQLite beside the query audit (`<data_dir>/lake_access.sqlite`) for the same reason:
a read-only query must never need the warehouse's write lock, and many processes append at once.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path

from core.settings import Settings

_SCHEMA = """
CREATE TABLE IF NOT EXISTS lake_access (
    at        TEXT NOT NULL,
    user      TEXT NOT NULL,
    dataset   TEXT NOT NULL,   -- the catalog's name: raw/<source>, curated/<entity>
    partition TEXT NOT NULL    -- dt=YYYY-MM-DD
)
"""
_INDEX = "CREATE INDEX IF NOT EXISTS lake_access_partition ON lake_access (dataset, partition, at)"

Partition = tuple[str, str]
"""(dataset, partition), e.g. ("raw/crm", "dt=2026-01-05")."""


def access_path(settings: Settings) -> Path:
    return settings.data_dir / "lake_access.sqlite"


def _connect(settings: Settings) -> sqlite3.Connection:
    path = access_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=30)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute(_SCHEMA)
    con.execute(_INDEX)
    return con


def record_reads(
    settings: Settings, user: str, reads: Iterable[Partition], at: dt.datetime | None = None
) -> int:
    """Log that `user` read these partitions (now, or `at`); returns how many were logged."""
    stamp = (at or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    rows = [(stamp, user, dataset, partition) for dataset, partition in sorted(set(reads))]
    if not rows:
        return 0
    with closing(_connect(settings)) as con, con:
        con.executemany(
            "INSERT INTO lake_access (at, user, dataset, partition) VALUES (?, ?, ?, ?)", rows
        )
    return len(rows)


def last_reads(settings: Settings) -> dict[Partition, dt.datetime]:
    """When each partition was last read by the lake engine (none logged: empty)."""
    if not access_path(settings).exists():
        return {}
    with closing(_connect(settings)) as con:
        rows = con.execute(
            "SELECT dataset, partition, max(at) FROM lake_access GROUP BY dataset, partition"
        ).fetchall()
    return {(d, p): dt.datetime.fromisoformat(at) for d, p, at in rows}
