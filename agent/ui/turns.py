"""What the buttons under an answer need (its tables and SQL), kept with the chat history.

The buttons (Chart this, Download CSV, Show SQL) carry only a turn id; the turn's tables and SQL
live in the history file next to Chainlit's threads, so the buttons still work on a thread resumed
from the sidebar or after the UI restarts. Chainlit does not persist actions, so a resumed thread
gets its buttons back from here too. A trigger deletes a thread's turns with the thread.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from tools.results import Table

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS encore_turns (
    "id" TEXT PRIMARY KEY,
    "threadId" TEXT NOT NULL,
    "messageId" TEXT NOT NULL,
    "userIdentifier" TEXT NOT NULL,
    "createdAt" TEXT NOT NULL,
    "result" TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS encore_turns_thread ON encore_turns ("threadId");
CREATE TRIGGER IF NOT EXISTS encore_turns_go_with_their_thread AFTER DELETE ON threads
BEGIN
    DELETE FROM encore_turns WHERE "threadId" = OLD."id";
END;
"""
"""Run after the history schema: the trigger hangs on Chainlit's `threads` table."""


@dataclass(frozen=True)
class SavedTurn:
    """One answer's results as its buttons need them."""

    id: str
    message_id: str
    sql: list[str]
    tables: list[Table]


class TurnStore:
    """Turn results in the history SQLite file, readable only by their user in their thread."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=10)  # Chainlit's writes hold the file briefly
        try:
            with con:
                yield con
        finally:
            con.close()

    def save(
        self,
        turn_id: str,
        *,
        thread_id: str,
        message_id: str,
        user: str,
        sql: list[str],
        tables: list[Table],
    ) -> None:
        """Keep one answer's SQL and tables under its turn id."""
        result = {"sql": sql, "tables": [t.model_dump(mode="json") for t in tables]}
        with self._connect() as con:
            con.execute(
                'INSERT OR REPLACE INTO encore_turns ("id", "threadId", "messageId", '
                '"userIdentifier", "createdAt", "result") VALUES (?, ?, ?, ?, ?, ?)',
                (
                    turn_id,
                    thread_id,
                    message_id,
                    user,
                    datetime.now(UTC).isoformat(),
                    json.dumps(result, default=str),
                ),
            )

    def get(self, turn_id: str, *, thread_id: str, user: str) -> SavedTurn | None:
        """The turn if it belongs to this user's thread (a button's payload comes from the page)."""
        with self._connect() as con:
            row = con.execute(
                'SELECT "id", "messageId", "result" FROM encore_turns '
                'WHERE "id" = ? AND "threadId" = ? AND "userIdentifier" = ?',
                (turn_id, thread_id, user),
            ).fetchone()
        return _turn(row) if row else None

    def of_thread(self, thread_id: str, *, user: str) -> list[SavedTurn]:
        """The thread's turns, oldest first."""
        with self._connect() as con:
            rows = con.execute(
                'SELECT "id", "messageId", "result" FROM encore_turns '
                'WHERE "threadId" = ? AND "userIdentifier" = ? ORDER BY "createdAt"',
                (thread_id, user),
            ).fetchall()
        return [_turn(row) for row in rows]


def _turn(row: tuple[Any, ...]) -> SavedTurn:
    result = json.loads(row[2])
    tables = [Table.model_validate(t) for t in result.get("tables", [])]
    return SavedTurn(id=row[0], message_id=row[1], sql=list(result.get("sql", [])), tables=tables)
