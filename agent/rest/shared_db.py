"""A SQLite file that every API process on the host shares (rate-limit buckets, revoked tokens).

SQLite rather than process memory so that uvicorn workers, or several `encore serve api` processes
over one data dir, enforce one limit and one denylist; its file lock makes each statement atomic
across processes. WAL lets readers go on while a writer commits, and `synchronous=NORMAL` skips the
fsync per commit (a power cut may lose the last few writes; a crash of the process loses none).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from core.errors import ConfigError

_BUSY_TIMEOUT_MS: Final = 5000  # another process holding the write lock: wait, do not fail


class SharedDb:
    """One connection per process to a 0600 SQLite file, created with `schema` if new."""

    def __init__(self, path: Path, schema: str) -> None:
        self.path = path
        self.schema = schema
        path.parent.mkdir(parents=True, exist_ok=True)
        # created 0600 before SQLite opens it: it holds user names (SQLite gives -wal/-shm the same)
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        self._con = self._open()
        self._pid = os.getpid()
        # one statement at a time per process: endpoints run on a thread pool
        self._lock = threading.Lock()

    def _open(self) -> sqlite3.Connection:
        try:
            con = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            con.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            con.execute("PRAGMA journal_mode = WAL")
            con.execute("PRAGMA synchronous = NORMAL")
            con.executescript(self.schema)
        except sqlite3.Error as exc:
            raise ConfigError(
                f"cannot open the API's shared state in {self.path}: {exc}; check the folder is "
                "writable, or delete the file (it is rebuilt empty)",
                path=str(self.path),
            ) from exc
        return con

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """The process's connection, held alone for the `with` block (autocommit per statement)."""
        with self._lock:
            if os.getpid() != self._pid:
                # an app built before a fork (gunicorn --preload): a SQLite connection must not
                # cross one, so the child opens its own
                self._con, self._pid = self._open(), os.getpid()
            yield self._con

    def close(self) -> None:
        with self._lock:
            self._con.close()
