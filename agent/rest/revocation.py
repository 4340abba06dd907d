"""Tokens denied before they expire: one signed-out token (by its `jti`), or every token of a user.

Kept in `<data_dir>/api/revoked.sqlite`, so a revocation holds across restarts and for every process
serving the API on the host. An entry is kept only while a token it denies could still be valid,
and pruned on the next write after that.

    revoked_tokens  jti -> user, expires_at            POST /v1/auth/revoke (sign out)
    revoked_users   user -> issued_up_to, expires_at   POST /v1/users/{name}/revoke-tokens (admin)
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Final

from agent.rest.shared_db import SharedDb

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS revoked_tokens (
    jti        TEXT PRIMARY KEY,
    user       TEXT NOT NULL,
    expires_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS revoked_users (
    user         TEXT PRIMARY KEY,
    issued_up_to REAL NOT NULL,  -- tokens with iat at or before this are denied
    expires_at   REAL NOT NULL
) WITHOUT ROWID;
"""

MAX_TOKEN_LIFETIME_S: Final = 86_400
"""The longest-lived token the API accepts (a local token's ceiling; Cognito's is a day too): a
user's revocation is kept this long, after which every token it denies has expired anyway."""

_KEEP_AFTER_EXPIRY_S: Final = 60  # past the verifiers' clock-skew leeway


class Denylist:
    """The revoked tokens and users, shared by the API processes through one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.db = SharedDb(path, _SCHEMA)

    def is_revoked(self, token_id: str | None, user: str, issued_at: float) -> bool:
        """True if this token was signed out, or its user's tokens were revoked after it was
        issued."""
        with self.db.connection() as con:
            row = con.execute(
                "SELECT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = ?) "
                "OR EXISTS (SELECT 1 FROM revoked_users WHERE user = ? AND issued_up_to >= ?)",
                (token_id or "", user, issued_at),
            ).fetchone()
        return bool(row[0])

    def revoke_token(self, token_id: str, user: str, expires_at: float) -> None:
        """Deny one token (by its jti) until it expires."""
        with self.db.connection() as con:
            con.execute(
                "INSERT OR REPLACE INTO revoked_tokens (jti, user, expires_at) VALUES (?, ?, ?)",
                (token_id, user, expires_at),
            )
            _prune(con, time.time())

    def revoke_user(self, user: str, now: float | None = None) -> float:
        """Deny every token of `user` issued up to now; returns that time (seconds since epoch)."""
        now = time.time() if now is None else now
        with self.db.connection() as con:
            con.execute(
                "INSERT INTO revoked_users (user, issued_up_to, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (user) DO UPDATE SET "
                "issued_up_to = max(issued_up_to, excluded.issued_up_to), "
                "expires_at = max(expires_at, excluded.expires_at)",
                (user, now, now + MAX_TOKEN_LIFETIME_S),
            )
            _prune(con, now)
        return now

    def entries(self) -> int:
        """How many revocations are kept (expired ones go at the next write)."""
        with self.db.connection() as con:
            row = con.execute(
                "SELECT (SELECT count(*) FROM revoked_tokens) "
                "+ (SELECT count(*) FROM revoked_users)"
            ).fetchone()
        return int(row[0])


def _prune(con: sqlite3.Connection, now: float) -> None:
    cutoff = now - _KEEP_AFTER_EXPIRY_S
    con.execute("DELETE FROM revoked_tokens WHERE expires_at < ?", (cutoff,))
    con.execute("DELETE FROM revoked_users WHERE expires_at < ?", (cutoff,))
