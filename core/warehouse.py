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

Steady reads (one request a second) would keep a shared reader open for good, so a writer that
cannot get the file announces itself to other processes: a marker file beside the warehouse
(`<file>.writer`, holding its pid and until when it waits). While a live marker exists readers do
not open the file (one `os.stat` per open or lend), a shared reader closes as soon as its cursors
are back, and the writer gets in; it removes the marker once it holds the file or gives up.
Markers of dead processes or past their wait are stale and ignored.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
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

    intent = _WriteIntent(path, wait_s)
    try:
        con = _open_with_retry(
            open_rw, settings, wait_s, on_locked=intent.announce, busy=_who_holds
        )
    finally:
        intent.withdraw()  # holding the file (or giving up): readers may queue on the lock again
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
    opener: Callable[[Settings], duckdb.DuckDBPyConnection],
    settings: Settings,
    wait_s: float,
    *,
    on_locked: Callable[[], None] | None = None,
    busy: Callable[[Path, BaseException], str] | None = None,
) -> duckdb.DuckDBPyConnection:
    """`opener(settings)`, retried with backoff while another process holds the file's lock.

    `on_locked` runs at each refusal (a writer announces itself); `busy` words the final error.
    """
    deadline = time.monotonic() + wait_s
    delay = 0.05
    while True:
        try:
            return opener(settings)
        except WarehouseError as exc:
            if not _is_lock_conflict(exc):
                raise
            if time.monotonic() >= deadline:
                path = settings.warehouse_file
                message = busy(path, exc) if busy else "the warehouse is busy with a pipeline load"
                raise WarehouseError(f"{message}; try again in a moment", path=str(path)) from exc
            if on_locked is not None:
                on_locked()
            log.info("warehouse locked by another process; retrying in %.2fs", delay)
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


_HOLDER_PID = re.compile(r"PID (\d+)")
_LOADING: Final = "the warehouse is being loaded; try again in a moment"


def _intent_file(path: Path) -> Path:
    return path.with_name(path.name + ".writer")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, someone else's
    return True


def _load_announced(path: Path) -> bool:
    """Whether a live writer in some process waits for `path` (one stat when none does)."""
    marker = _intent_file(path)
    try:
        marker.stat()
    except FileNotFoundError:
        return False
    try:
        text = marker.read_text(encoding="ascii")
    except OSError:
        return False  # removed meanwhile
    try:
        pid_text, until_text = text.split()[:2]
        pid, until = int(pid_text), float(until_text)
    except ValueError:
        return False  # not ours: never block readers on a file we cannot read
    if _pid_alive(pid) and time.time() < until:
        return True
    try:  # stale: its writer died or stopped waiting long ago
        if marker.read_text(encoding="ascii") == text:
            marker.unlink()
            log.info("removed a stale writer marker of pid %d at %s", pid, marker)
    except OSError:
        pass
    return False


class _WriteIntent:
    """A writer's announcement to readers in other processes: created atomically when the file
    is refused to it, removed when it holds the file or gives up."""

    def __init__(self, path: Path, wait_s: float) -> None:
        self.marker = _intent_file(path)
        self.path = path
        self.wait_s = wait_s
        self.text: str | None = None

    def announce(self) -> None:
        if self.text is not None or _load_announced(self.path):
            return  # ours already, or another writer's: it drains the readers for both
        # a little beyond our own wait, so a marker left by a killed writer expires
        text = f"{os.getpid()} {time.time() + self.wait_s + 5:.3f} {time.time():.3f}\n"
        tmp = self.marker.with_name(f"{self.marker.name}.{os.getpid()}.{threading.get_ident()}")
        try:
            tmp.write_text(text, encoding="ascii")
            os.link(tmp, self.marker)  # atomic, and refused if another writer got there first
        except OSError:
            return
        finally:
            tmp.unlink(missing_ok=True)
        self.text = text
        log.info("waiting for readers of %s to let go (marker %s)", self.path, self.marker)

    def withdraw(self) -> None:
        if self.text is None:
            return
        try:
            if self.marker.read_text(encoding="ascii") == self.text:
                self.marker.unlink()
        except OSError:
            pass
        self.text = None


def _who_holds(path: Path, exc: BaseException) -> str:
    """What keeps a writer out: a read-only probe opens only if readers (not a writer) hold it."""
    found = _HOLDER_PID.search(str(exc))
    process = f" (process {found[1]})" if found else ""
    try:
        duckdb.connect(str(path), read_only=True).close()
    except duckdb.Error:
        return f"the warehouse is busy with another pipeline load{process}"
    return f"queries are reading the warehouse{process}"


def _await_no_load(path: Path, deadline: float) -> None:
    """Wait until no writer of another process is announced for `path`, up to `deadline`."""
    while _load_announced(path):
        if time.monotonic() >= deadline:
            raise WarehouseError(_LOADING, path=str(path))
        time.sleep(0.05)


@dataclass
class _Shared:
    con: duckdb.DuckDBPyConnection
    config: tuple[str, int]
    users: int = 0
    idle_since: float = field(default_factory=time.monotonic)
    draining: bool = False  # a writer elsewhere waits: no new cursors, closed once all are back


class _SharedReaders:
    """One read-only database per warehouse file in this process, lent out as cursors."""

    def __init__(self, idle_s: float) -> None:
        self.idle_s = idle_s
        self._cond = threading.Condition()
        self._open: dict[Path, _Shared] = {}
        self._closer: threading.Thread | None = None

    def lend(
        self, settings: Settings, wait_s: float, *, heed_writers: bool = True
    ) -> duckdb.DuckDBPyConnection:
        path = settings.warehouse_file.resolve()
        config = (settings.query_memory_limit, settings.query_threads)
        deadline = time.monotonic() + wait_s
        with self._cond:
            shared = self._open.get(path)
            if shared is not None and shared.config != config:
                self._close_when_unused(path, wait_s)  # another configuration: reopen
                shared = None
            while heed_writers and _load_announced(path):
                if shared is not None:  # let the writer in as soon as the cursors are back
                    shared.draining = True
                    if shared.users == 0:
                        self._drop(path)
                        shared = None
                if time.monotonic() >= deadline:
                    raise WarehouseError(_LOADING, path=str(path))
                self._cond.wait(timeout=0.05)
                shared = self._open.get(path)
            if shared is not None and heed_writers:
                shared.draining = False  # the writer gave up before the cursors came back
            if shared is None:
                remaining = max(deadline - time.monotonic(), 0.0)
                shared = _Shared(_open_with_retry(connect_reader, settings, remaining), config)
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
                if shared.draining and shared.users == 0:
                    self._drop(settings.warehouse_file.resolve())
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
        self._drop(path)

    def _drop(self, path: Path) -> None:
        self._open.pop(path).con.close()

    def _start_closer(self) -> None:
        if self._closer is None or not self._closer.is_alive():
            self._closer = threading.Thread(
                target=self._close_idle, name="encore-idle-readers", daemon=True
            )
            self._closer.start()

    def _close_idle(self) -> None:
        checked = 0.0
        with self._cond:
            while self._open:
                now = time.monotonic()
                # a writer elsewhere is looked for on each tick, not on each wake-up (give_back)
                look = now - checked >= self.idle_s / 4
                checked = now if look else checked
                for path, shared in list(self._open.items()):
                    if look and not shared.draining and _load_announced(path):
                        shared.draining = True
                    if shared.users == 0 and (
                        shared.draining or now - shared.idle_since >= self.idle_s
                    ):
                        self._drop(path)
                self._cond.wait(timeout=self.idle_s / 4)


_SHARED_READERS: Final = _SharedReaders(idle_s=2.0)
_sharing = False
_held = threading.local()  # depth: how many `reading()` calls this thread is inside


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
    # a call inside another of this thread holds the file already: waiting for a writer would
    # only wait for itself
    heed_writers = not getattr(_held, "depth", 0)
    if not _sharing:
        deadline = time.monotonic() + wait_s
        if heed_writers:
            _await_no_load(settings.warehouse_file, deadline)
        remaining = max(deadline - time.monotonic(), 0.0)
        con = _open_with_retry(connect_reader, settings, remaining)
        release: Callable[[], None] = con.close
    else:
        con = _SHARED_READERS.lend(settings, wait_s, heed_writers=heed_writers)
        release = functools.partial(_SHARED_READERS.give_back, settings, con)
    _held.depth = getattr(_held, "depth", 0) + 1
    try:
        yield con
    finally:
        _held.depth -= 1
        release()


@contextmanager
def writing(settings: Settings, *, wait_s: float = 60.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection for one call (ingestion triggers, scores); closed afterwards."""
    con = connect_writer(settings, wait_s=wait_s)
    try:
        yield con
    finally:
        con.close()
