"""The lake's access log: which partitions the lake engine read, and when (requirement 7.5).

Tiering keeps a partition hot while it is being read, however old it is; this log is what tells
it. Kept in SQLite beside the query audit (`<data_dir>/lake_access.sqlite`) for the same reason:
a read-only query must never need the warehouse's write lock, and many processes append at once.

Tiering needs only each partition's latest read within its window, so the log stays small: a read
replaces the same user's earlier entry for that partition, and each tiering run prunes entries
older than the window (`prune_reads`). Who ran which query is the query audit's job, not this.
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


def _stamp(moment: dt.datetime) -> str:
    # one UTC text form, so entries compare as text (a naive time is taken as UTC)
    utc = moment.astimezone(dt.UTC) if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return utc.isoformat(timespec="seconds")


def record_reads(
    settings: Settings, user: str, reads: Iterable[Partition], at: dt.datetime | None = None
) -> int:
    """Log that `user` read these partitions (now, or `at`); returns how many were logged.

    Each replaces the user's earlier entries for the same partition (the cheap index lookup keeps
    the log to one row per user and partition however often it is read).
    """
    stamp = _stamp(at or dt.datetime.now(dt.UTC))
    rows = [(stamp, user, dataset, partition) for dataset, partition in sorted(set(reads))]
    if not rows:
        return 0
    with closing(_connect(settings)) as con, con:
        con.executemany(
            "DELETE FROM lake_access WHERE dataset = ? AND partition = ? AND at <= ? AND user = ?",
            [(dataset, partition, when, who) for when, who, dataset, partition in rows],
        )
        con.executemany(
            "INSERT INTO lake_access (at, user, dataset, partition) VALUES (?, ?, ?, ?)", rows
        )
    return len(rows)


def prune_reads(settings: Settings, before: dt.datetime) -> int:
    """Delete the entries older than `before` (tiering's window); returns how many."""
    if not access_path(settings).exists():
        return 0
    with closing(_connect(settings)) as con, con:
        return con.execute("DELETE FROM lake_access WHERE at < ?", (_stamp(before),)).rowcount


def last_reads(settings: Settings) -> dict[Partition, dt.datetime]:
    """When each partition was last read by the lake engine (none logged: empty)."""
    if not access_path(settings).exists():
        return {}
    with closing(_connect(settings)) as con:
        rows = con.execute(
            "SELECT dataset, partition, max(at) FROM lake_access GROUP BY dataset, partition"
        ).fetchall()
    return {(d, p): dt.datetime.fromisoformat(at) for d, p, at in rows}
