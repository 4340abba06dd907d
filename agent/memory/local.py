"""Memory in one SQLite file under `settings.memory_dir`, safe to share between processes.

A `LocalMemory` keeps one connection open (WAL journal, busy timeout) and serialises its calls
with a lock: Strands runs tools on worker threads and the AgentCore server on a thread pool, so
calls arrive from several threads. Other processes (the CLI, the UI, the AgentCore server) use
the same file at once: WAL lets readers run beside the one writer, and every write is a short
transaction, so no process holds the lock between calls.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agent.memory.base import (
    MemoryEvent,
    PreferenceKind,
    Preferences,
    Role,
    check_kind,
    merge,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL, session_id TEXT NOT NULL, role TEXT NOT NULL,
    text TEXT NOT NULL, at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_session ON events (user_id, session_id, id);
CREATE TABLE IF NOT EXISTS preferences (
    user_id TEXT PRIMARY KEY, data TEXT NOT NULL, updated_at TEXT NOT NULL
);
"""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class LocalMemory:
    """The embedded memory store: `<memory_dir>/memory.sqlite3`."""

    def __init__(
        self, directory: Path, *, max_age_days: float = 90.0, max_events: int = 1000
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "memory.sqlite3"
        self.max_age = dt.timedelta(days=max_age_days)
        self.max_events = max_events
        self._lock = threading.Lock()
        self._con: sqlite3.Connection | None = None
        self._pid = os.getpid()
        with self._connect() as con:
            con.executescript(_SCHEMA)

    def _open(self) -> sqlite3.Connection:
        con = sqlite3.connect(
            self.path, timeout=10.0, isolation_level=None, check_same_thread=False
        )
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA busy_timeout=10000")
        # In WAL mode NORMAL never corrupts the file; a power cut may lose the last turns only.
        con.execute("PRAGMA synchronous=NORMAL")
        return con

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """The store's connection, for this thread alone until the block ends."""
        with self._lock:
            if self._con is None or self._pid != os.getpid():
                # a forked child never touches its parent's connection (SQLite forbids it)
                self._con, self._pid = self._open(), os.getpid()
            con = self._con
            try:
                yield con
            except BaseException:
                if con.in_transaction:
                    con.execute("ROLLBACK")  # leave no lock held for the next call or process
                raise

    def close(self) -> None:
        """Close the connection (the next call opens a new one)."""
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    def add_event(self, user: str, session: str, role: Role, text: str) -> None:
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            con.execute(
                "INSERT INTO events (user_id, session_id, role, text, at) VALUES (?, ?, ?, ?, ?)",
                (user, session, role, text, _now().isoformat()),
            )
            # count retention per session, applied as we write so the table never grows unbounded:
            # everything at or below the id of the first event past the newest `max_events`
            con.execute(
                "DELETE FROM events WHERE user_id = ? AND session_id = ? AND id <= "
                "(SELECT id FROM events WHERE user_id = ? AND session_id = ? "
                "ORDER BY id DESC LIMIT 1 OFFSET ?)",
                (user, session, user, session, self.max_events),
            )
            con.execute("COMMIT")

    def events(self, user: str, session: str, limit: int = 20) -> list[MemoryEvent]:
        with self._connect() as con:
            rows = con.execute(
                "SELECT session_id, role, text, at FROM events WHERE user_id = ? AND session_id = ?"
                " AND at >= ? ORDER BY id DESC LIMIT ?",
                (user, session, (_now() - self.max_age).isoformat(), limit),
            ).fetchall()
        return [
            MemoryEvent(session=s, role=r, text=t, at=dt.datetime.fromisoformat(a))
            for s, r, t, a in reversed(rows)
        ]

    def preferences(self, user: str) -> Preferences:
        with self._connect() as con:
            row = con.execute("SELECT data FROM preferences WHERE user_id = ?", (user,)).fetchone()
        return Preferences.model_validate_json(row[0]) if row else Preferences()

    def _store(self, con: sqlite3.Connection, user: str, prefs: Preferences) -> None:
        con.execute(
            "INSERT INTO preferences (user_id, data, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (user_id) DO UPDATE SET data = excluded.data, "
            "updated_at = excluded.updated_at",
            (user, prefs.model_dump_json(), _now().isoformat()),
        )

    def set_preference(self, user: str, kind: PreferenceKind, value: Any) -> Preferences:
        kind = check_kind(kind)
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")  # read-modify-write without losing a concurrent add
            row = con.execute("SELECT data FROM preferences WHERE user_id = ?", (user,)).fetchone()
            prefs = merge(
                Preferences.model_validate(json.loads(row[0])) if row else Preferences(),
                kind,
                value,
            )
            self._store(con, user, prefs)
            con.execute("COMMIT")
        return prefs

    def forget(self, user: str, kind: PreferenceKind | None = None) -> Preferences:
        with self._connect() as con:
            if kind is None:
                con.execute("BEGIN IMMEDIATE")
                con.execute("DELETE FROM preferences WHERE user_id = ?", (user,))
                con.execute("DELETE FROM events WHERE user_id = ?", (user,))
                con.execute("COMMIT")
                return Preferences()
            kind = check_kind(kind)
            con.execute("BEGIN IMMEDIATE")
            row = con.execute("SELECT data FROM preferences WHERE user_id = ?", (user,)).fetchone()
            data = json.loads(row[0]) if row else {}
            data.pop(kind, None)
            prefs = Preferences.model_validate(data)
            self._store(con, user, prefs)
            con.execute("COMMIT")
        return prefs

    def purge(self, now: dt.datetime | None = None) -> int:
        cutoff = ((now or _now()) - self.max_age).isoformat()
        with self._connect() as con:
            removed = con.execute("DELETE FROM events WHERE at < ?", (cutoff,)).rowcount
        return int(removed)
