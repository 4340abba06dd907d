"""Warehouse connections and the versioned, idempotent migration step.

Two kinds of connection: `connect_writer` for pipelines (read-write, migrated) and
`connect_reader` for queries (read-only and locked down, DESIGN.md §7).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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

_READER_LOCKDOWN: Final = {
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


def connect_writer(settings: Settings, *, migrated: bool = True) -> duckdb.DuckDBPyConnection:
    """A read-write connection for pipelines; creates the file and brings the schema up to date."""
    path = settings.warehouse_file
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path))
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot open the warehouse at {path}: {exc}", path=str(path)) from exc
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
                **_READER_LOCKDOWN,
                "memory_limit": settings.query_memory_limit,
                "threads": settings.query_threads,
            },
        )
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot open the warehouse at {path}: {exc}", path=str(path)) from exc
    con.execute("SET lock_configuration = true")
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


def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Row count of every contract table."""
    counts: dict[str, int] = {}
    for table in CONTRACT_TABLES:
        row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
        counts[table] = int(row[0]) if row else 0
    return counts
