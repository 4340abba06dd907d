"""A small SQLite cache of fetched pages and source lookups, with a time-to-live per read.

Each call opens and closes its own connection, so several processes (MCP servers, the UI) can
share `<data_dir>/web-cache/cache.sqlite` without holding it open.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Now = Callable[[], float]
"""Wall-clock seconds since the epoch; tests inject a fake one instead of sleeping."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    stored_at REAL NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (namespace, key)
)
"""


@dataclass(frozen=True)
class Hit:
    """A cached value and its age in seconds."""

    value: Any
    age_s: float


class WebCache:
    """JSON values by (namespace, key), read back only while younger than the caller's TTL."""

    def __init__(self, path: Path, *, now: Now = time.time) -> None:
        self.path = path
        self.now = now
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as con, con:
            con.execute(_SCHEMA)

    @classmethod
    def under(cls, data_dir: Path, *, now: Now = time.time) -> WebCache:
        """The cache in `<data_dir>/web-cache/`."""
        return cls(data_dir / "web-cache" / "cache.sqlite", now=now)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=5.0)

    def get(self, namespace: str, key: str, ttl_s: float | None) -> Hit | None:
        """The entry if present and (when `ttl_s` is given) not older than `ttl_s`."""
        with closing(self._connect()) as con:
            row = con.execute(
                "SELECT stored_at, value FROM entries WHERE namespace = ? AND key = ?",
                (namespace, key),
            ).fetchone()
        if row is None:
            return None
        age = self.now() - float(row[0])
        if ttl_s is not None and age > ttl_s:
            return None
        return Hit(json.loads(row[1]), age)

    def put(self, namespace: str, key: str, value: Any) -> None:
        """Store `value` (JSON-serialisable) as of now, replacing any older entry."""
        with closing(self._connect()) as con, con:
            con.execute(
                "INSERT OR REPLACE INTO entries (namespace, key, stored_at, value) "
                "VALUES (?, ?, ?, ?)",
                (namespace, key, self.now(), json.dumps(value, default=str)),
            )

    def purge(self, older_than_s: float) -> int:
        """Delete entries older than `older_than_s`; returns how many went."""
        with closing(self._connect()) as con, con:
            cursor = con.execute(
                "DELETE FROM entries WHERE stored_at < ?", (self.now() - older_than_s,)
            )
            return cursor.rowcount
