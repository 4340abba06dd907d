"""Warehouse connections and the versioned, idempotent migration step.

Two kinds of connection: `connect_writer` for pipelines (read-write, migrated) and
`connect_reader` for queries (read-only and locked down, DESIGN.md §7). Tools borrow them
through `reading()` and `writing()`, which take turns on the file with other processes.

DuckDB lets one process write a file and refuses other processes while it does; a reader in one
process also blocks a writer in another. So `reading()` opens per call and closes at once, and
openers wait out a lock held elsewhere. Long-lived servers (the MCP servers) call
`share_readers()`: their calls then share one open read-only database per file (opening costs
tens of milliseconds and starts with a cold buffer cache, and one agent turn makes several
calls), closed after a short idle time so other processes can write, and at once when a writer
in the same process wants the file.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Final

import duckdb

from core.errors import MigrationError, WarehouseError
from core.settings import Settings

log = logging.getLogger(__name__)

CONTRACT_TABLES: Final = (
    "artists",
    "venues",
    "fans",
    "concerts",
    "ticket_sales",
    "concert_results",
    "concert_performance",
)
"""Tables of the warehouse contract, parents before children (a safe load order)."""

_MIGRATION_NAME = re.compile(r"^(\d{4})_(\w+)\.sql$")

# what a read-only connection may not do (files, extensions); the lake engine uses it too
READER_LOCKDOWN: Final = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
}


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available_migrations() -> list[Migration]:
    """The migrations shipped in `core/migrations`, in version order."""
    found = []
    for entry in resources.files("core.migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.version)


def migrate(con: duckdb.DuckDBPyConnection) -> list[Migration]:
    """Apply the migrations not yet applied, each in its own transaction; return those applied.

    Safe to run any number of times. Refuses to continue if an applied migration's file changed.
    """
    con.execute(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
               version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,
               checksum VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL DEFAULT now())"""
    )
    applied = dict(con.execute("SELECT version, checksum FROM schema_migrations").fetchall())
    done = []
    for migration in available_migrations():
        if migration.version in applied:
            if applied[migration.version] != migration.checksum:
                raise MigrationError(
                    f"migration {migration.version:04d}_{migration.name} changed after it was "
                    "applied; add a new migration instead of editing an applied one",
                    version=migration.version,
                )
            continue
        try:
            con.execute("BEGIN TRANSACTION")
            con.execute(migration.sql)
            con.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)",
                [migration.version, migration.name, migration.checksum],
            )
            con.execute("COMMIT")
        except duckdb.Error as exc:
            con.execute("ROLLBACK")
            raise MigrationError(
                f"migration {migration.version:04d}_{migration.name} failed: {exc}",
                version=migration.version,
            ) from exc
        log.info("applied migration %04d_%s", migration.version, migration.name)
        done.append(migration)
    return done


def connect_writer(
    settings: Settings, *, migrated: bool = True, wait_s: float = 30.0
) -> duckdb.DuckDBPyConnection:
    """A read-write connection for pipelines; creates the file and brings the schema up to date.

    Readers of this process let go of the file first; a lock held by another process is waited
    out for up to `wait_s` seconds.
    """
    path = settings.warehouse_file
    path.parent.mkdir(parents=True, exist_ok=True)
    _SHARED_READERS.close(path, wait_s)

    def open_rw(_: Settings) -> duckdb.DuckDBPyConnection:
        try:
            return duckdb.connect(str(path))
        except duckdb.Error as exc:
            raise WarehouseError(
                f"cannot open the warehouse at {path}: {exc}", path=str(path)
            ) from exc

    con = _open_with_retry(open_rw, settings, wait_s)
    if migrated:
        migrate(con)
    return con


def connect_reader(settings: Settings) -> duckdb.DuckDBPyConnection:
    """A read-only, locked-down connection for queries (no files, no extensions, no settings)."""
    path: Path = settings.warehouse_file
    if not path.exists():
        raise WarehouseError(
            f"no warehouse at {path}; build one with `encore generate` or `encore demo`",
            path=str(path),
        )
    try:
        con = duckdb.connect(
            str(path),
            read_only=True,
            config={
                **READER_LOCKDOWN,
                "memory_limit": settings.query_memory_limit,
                "threads": settings.query_threads,
            },
        )
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot open the warehouse at {path}: {exc}", path=str(path)) from exc
    try:
        con.execute("SET lock_configuration = true")
    except duckdb.InvalidInputException:
        # the database is already open and locked down in this process (the shared reader)
        if con.execute("SELECT current_setting('lock_configuration')").fetchone() != (True,):
            con.close()
            raise
    return con


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run a block atomically: commit on success, roll back on any error."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def quote_ident(name: str) -> str:
    """A DuckDB identifier for any column or table name (quotes doubled inside)."""
    return '"' + name.replace('"', '""') + '"'


def drop_temp(con: duckdb.DuckDBPyConnection, name: str, catalog: str = "temp") -> None:
    """Drop the TEMP table or view `name` if it exists (DROP TABLE refuses a view, and back);
    `catalog` names another attached database holding such working tables."""
    kind = con.execute(
        "SELECT table_type FROM information_schema.tables "
        "WHERE table_catalog = ? AND table_name = ?",
        [catalog, name],
    ).fetchall()
    if kind:
        dropped = "VIEW" if kind[0][0] == "VIEW" else "TABLE"
        con.execute(f"DROP {dropped} {quote_ident(catalog)}.{quote_ident(name)}")


def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Row count of every contract table."""
    counts: dict[str, int] = {}
    for table in CONTRACT_TABLES:
        row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
        counts[table] = int(row[0]) if row else 0
    return counts


_LOCK_MARKERS: Final = ("Could not set lock", "Conflicting lock", "database is locked")


def _is_lock_conflict(exc: BaseException) -> bool:
    return any(marker in str(exc) for marker in _LOCK_MARKERS)


def _open_with_retry(
    opener: Callable[[Settings], duckdb.DuckDBPyConnection], settings: Settings, wait_s: float
) -> duckdb.DuckDBPyConnection:
    """`opener(settings)`, retried with backoff while another process holds the file's lock."""
    deadline = time.monotonic() + wait_s
    delay = 0.05
    while True:
        try:
            return opener(settings)
        except WarehouseError as exc:
            if not _is_lock_conflict(exc):
                raise
            if time.monotonic() >= deadline:
                raise WarehouseError(
                    "the warehouse is busy with a pipeline load; try again in a moment",
                    path=str(settings.warehouse_file),
                ) from exc
            log.info("warehouse locked by another process; retrying in %.2fs", delay)
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


@dataclass
class _Shared:
    con: duckdb.DuckDBPyConnection
    config: tuple[str, int]
    users: int = 0
    idle_since: float = field(default_factory=time.monotonic)


class _SharedReaders:
    """One read-only database per warehouse file in this process, lent out as cursors."""

    def __init__(self, idle_s: float) -> None:
        self.idle_s = idle_s
        self._cond = threading.Condition()
        self._open: dict[Path, _Shared] = {}
        self._closer: threading.Thread | None = None

    def lend(self, settings: Settings, wait_s: float) -> duckdb.DuckDBPyConnection:
        path = settings.warehouse_file.resolve()
        config = (settings.query_memory_limit, settings.query_threads)
        with self._cond:
            shared = self._open.get(path)
            if shared is not None and shared.config != config:
                self._close_when_unused(path, wait_s)  # another configuration: reopen
                shared = None
            if shared is None:
                shared = _Shared(_open_with_retry(connect_reader, settings, wait_s), config)
                self._open[path] = shared
                self._start_closer()
            shared.users += 1
            # a cursor is a connection of its own to the same database: safe in its thread
            return shared.con.cursor()

    def give_back(self, settings: Settings, cursor: duckdb.DuckDBPyConnection) -> None:
        cursor.close()
        with self._cond:
            shared = self._open.get(settings.warehouse_file.resolve())
            if shared is not None:
                shared.users -= 1
                shared.idle_since = time.monotonic()
                self._cond.notify_all()

    def close(self, path: Path, wait_s: float) -> None:
        """Close `path`'s shared reader once its cursors are back (a writer here wants it)."""
        with self._cond:
            self._close_when_unused(path.resolve(), wait_s)

    def _close_when_unused(self, path: Path, wait_s: float) -> None:
        shared = self._open.get(path)
        if shared is None:
            return
        if not self._cond.wait_for(lambda: shared.users == 0, timeout=wait_s):
            raise WarehouseError(
                "the warehouse is busy with queries; try again in a moment", path=str(path)
            )
        shared.con.close()
        del self._open[path]

    def _start_closer(self) -> None:
        if self._closer is None or not self._closer.is_alive():
            self._closer = threading.Thread(
                target=self._close_idle, name="encore-idle-readers", daemon=True
            )
            self._closer.start()

    def _close_idle(self) -> None:
        with self._cond:
            while self._open:
                now = time.monotonic()
                for path, shared in list(self._open.items()):
                    if shared.users == 0 and now - shared.idle_since >= self.idle_s:
                        shared.con.close()
                        del self._open[path]
                self._cond.wait(timeout=self.idle_s / 4)


_SHARED_READERS: Final = _SharedReaders(idle_s=2.0)
_sharing = False


def share_readers(enabled: bool = True) -> None:
    """Let this process's `reading()` calls share one open database per file (servers)."""
    global _sharing
    _sharing = enabled


def release_readers(settings: Settings, *, wait_s: float = 30.0) -> None:
    """Close this process's shared reader of the warehouse (before opening it differently)."""
    _SHARED_READERS.close(settings.warehouse_file, wait_s)


@contextmanager
def reading(settings: Settings, *, wait_s: float = 30.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A locked-down read-only connection for one call (a cursor on the shared reader when
    `share_readers()` was called)."""
    if not _sharing:
        con = _open_with_retry(connect_reader, settings, wait_s)
        try:
            yield con
        finally:
            con.close()
        return
    cursor = _SHARED_READERS.lend(settings, wait_s)
    try:
        yield cursor
    finally:
        _SHARED_READERS.give_back(settings, cursor)


@contextmanager
def writing(settings: Settings, *, wait_s: float = 60.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection for one call (ingestion triggers, scores); closed afterwards."""
    con = connect_writer(settings, wait_s=wait_s)
    try:
        yield con
    finally:
        con.close()
