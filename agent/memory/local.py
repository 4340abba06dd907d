"""Memory in one SQLite file under `settings.memory_dir`, safe to share between processes.

Each call opens a short connection (WAL mode, busy timeout) so the CLI, the UI and the AgentCore
server can use the same store at once without holding a lock between calls.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from agent.memory.base import MemoryEvent, PreferenceKind, Preferences, check_kind, merge

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
        with self._connect() as con:
            con.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA busy_timeout=10000")
            yield con
        finally:
            con.close()

    def add_event(
        self, user: str, session: str, role: Literal["user", "assistant"], text: str
    ) -> None:
        with self._connect() as con:
            con.execute(
                "INSERT INTO events (user_id, session_id, role, text, at) VALUES (?, ?, ?, ?, ?)",
                (user, session, role, text, _now().isoformat()),
            )
            # count retention per session, applied as we write so the table never grows unbounded
            con.execute(
                "DELETE FROM events WHERE user_id = ? AND session_id = ? AND id NOT IN "
                "(SELECT id FROM events WHERE user_id = ? AND session_id = ? "
                "ORDER BY id DESC LIMIT ?)",
                (user, session, user, session, self.max_events),
            )

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
                con.execute("DELETE FROM preferences WHERE user_id = ?", (user,))
                con.execute("DELETE FROM events WHERE user_id = ?", (user,))
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
