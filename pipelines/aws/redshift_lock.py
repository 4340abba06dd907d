"""One Redshift sync at a time per schema (`SyncLock`).

A sync reads the digests, exports, uploads and then writes in several transactions (the Data API
cannot keep one open across calls), so two syncs at once (two schedulers, a user and the
scheduler) would both diff against the same old digests. The lock is a lease row in
`<schema>.encore_sync_lock`, claimed, renewed and released in transactions that LOCK that table
first:

    claim     LOCK; DELETE the lease if it has expired; INSERT ours if there is none
    check     before each write: when half the lease has passed, LOCK; UPDATE its expiry
              WHERE the holder is us; then read the holder back (not us: the sync stops)
    release   LOCK; DELETE ours

A second sync polls the claim until the lease is free, up to its wait, then names the holder. The
lease (at least twice the statement timeout) frees the lock of a sync that died.
"""

from __future__ import annotations

import getpass
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Any, Final

import sqlglot

from core.errors import WarehouseError
from pipelines.aws.redshift_exec import Executor

log = logging.getLogger(__name__)

LOCK_TABLE: Final = "encore_sync_lock"
"""The lease of the sync running on a schema (one row while one runs)."""
_LOCK_NAME: Final = "warehouse"
LOCK_WAIT_S: Final = 600.0
"""How long a sync waits for another one on the same schema to finish, unless told
(ENCORE_REDSHIFT_LOCK_WAIT_S)."""
LEASE_S: Final = 900.0
"""The sync lock's lease (at least twice the statement timeout): how long the lock of a sync
that died stays taken."""


def _holder() -> str:
    """Who a sync is, as another sync waiting for it reads it: user, host, process, and a token
    (two syncs of one process differ)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name (e.g. a container without a passwd entry)
        user = "?"
    return f"{user}@{socket.gethostname()} pid {os.getpid()} sync {uuid.uuid4().hex[:8]}"


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class SyncLock:
    """One sync at a time on a schema: a lease in `<schema>.encore_sync_lock` (module docstring).

    Times in the table are the database's, so clocks of the machines running syncs do not
    matter; the lease's own clock here only measures how much of it has passed. Each write
    starts with at least half the lease left, which outlasts a Data API statement (cancelled at
    its timeout); a DB-API connection has no timeout, so a write running longer than that could
    outlive the lease.
    """

    def __init__(
        self,
        executor: Executor,
        schema: str,
        *,
        dialect: str = "redshift",
        wait_s: float = LOCK_WAIT_S,
        lease_s: float = LEASE_S,
        poll_s: float = 2.0,
        holder: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.executor = executor
        self.schema = schema
        self.table = f"{schema}.{LOCK_TABLE}"
        self.dialect = dialect
        self.wait_s = wait_s
        self.lease_s = lease_s
        self.poll_s = poll_s
        self.holder = holder or _holder()
        self.clock = clock
        self.sleep = sleep
        self.renewed_at: float | None = None  # when the last claim or renewal was sent

    def _sql(self, duckdb_sql: str) -> str:
        return sqlglot.transpile(duckdb_sql, read="duckdb", write=self.dialect)[0]

    def ddl(self) -> list[str]:
        """Create the schema and the lock table when missing."""
        return [
            self._sql(f"CREATE SCHEMA IF NOT EXISTS {self.schema}"),
            self._sql(
                f"CREATE TABLE IF NOT EXISTS {self.table} (lock_name VARCHAR NOT NULL, "
                "holder VARCHAR NOT NULL, acquired_at TIMESTAMP NOT NULL, "
                "expires_at TIMESTAMP NOT NULL)"
            ),
        ]

    def _until(self) -> str:
        return f"CURRENT_TIMESTAMP + INTERVAL {int(self.lease_s)} SECOND"

    def claim(self) -> list[str]:
        """One transaction: drop an expired lease, and take the lock when nobody holds it."""
        mine = f"lock_name = '{_LOCK_NAME}'"
        return [
            f"LOCK TABLE {self.table}",
            self._sql(f"DELETE FROM {self.table} WHERE {mine} AND expires_at < CURRENT_TIMESTAMP"),
            self._sql(
                f"INSERT INTO {self.table} (lock_name, holder, acquired_at, expires_at) "
                f"SELECT '{_LOCK_NAME}', {_quoted(self.holder)}, CURRENT_TIMESTAMP, "
                f"{self._until()} FROM (SELECT count(*) AS n FROM {self.table} WHERE {mine}) "
                "AS held WHERE held.n = 0"
            ),
        ]

    def renew(self) -> list[str]:
        """One transaction: extend our lease (nothing when another sync holds the lock now)."""
        return [
            f"LOCK TABLE {self.table}",
            self._sql(
                f"UPDATE {self.table} SET expires_at = {self._until()} "
                f"WHERE lock_name = '{_LOCK_NAME}' AND holder = {_quoted(self.holder)}"
            ),
        ]

    def unlock(self) -> list[str]:
        """One transaction: drop our lease."""
        return [
            f"LOCK TABLE {self.table}",
            self._sql(
                f"DELETE FROM {self.table} "
                f"WHERE lock_name = '{_LOCK_NAME}' AND holder = {_quoted(self.holder)}"
            ),
        ]

    def holder_query(self) -> str:
        """The query of who holds the lock, since when and until when."""
        return self._sql(
            f"SELECT holder, acquired_at, expires_at FROM {self.table} "
            f"WHERE lock_name = '{_LOCK_NAME}'"
        )

    def _current(self) -> tuple[Any, ...] | None:
        rows = self.executor.query(self.holder_query(), label=f"holder of {self.table}")
        return rows[0] if rows else None

    def _create(self) -> None:
        """The DDL; once more when it fails on what "already exists": PostgreSQL fails a
        CREATE ... IF NOT EXISTS racing another sync's, which has committed by then."""
        for ddl in self.ddl():
            try:
                self.executor.run([ddl], label=ddl[:120])
            except WarehouseError as exc:
                if "already exists" not in str(exc):
                    raise
                log.info("created by another sync at the same time; again: %s", ddl[:120])
                self.executor.run([ddl], label=ddl[:120])

    def acquire(self) -> None:
        """Take the lock, waiting up to `wait_s` for the sync holding it; raise naming it."""
        self._create()
        deadline = self.clock() + self.wait_s
        announced = False
        while True:
            sent = self.clock()
            self.executor.run(self.claim(), label=f"claim the sync lock {self.table}")
            current = self._current()
            if current is not None and str(current[0]) == self.holder:
                self.renewed_at = sent
                log.info("holding the sync lock %s as %s", self.table, self.holder)
                return
            remaining = deadline - self.clock()
            if remaining <= 0:
                raise self._held(current)
            if not announced and current is not None:
                log.warning("another sync holds %s: %s, since %s; waiting up to %g s",
                            self.table, current[0], current[1], self.wait_s)  # fmt: skip
                announced = True
            self.sleep(min(self.poll_s, remaining))

    def _held(self, current: tuple[Any, ...] | None) -> WarehouseError:
        holder, since, until = current if current is not None else ("(nobody now)", "?", "?")
        return WarehouseError(
            f"another Redshift sync holds the sync lock of schema {self.schema}: {holder}, "
            f"since {since} (its lease ends at {until} unless it is renewed); waited "
            f"{self.wait_s:g} s. Run the sync again once that one has finished",
            schema=self.schema,
            holder=None if current is None else str(holder),
            acquired_at=str(since),
            expires_at=str(until),
        )

    def check(self) -> None:
        """Before a write: renew the lease once half of it has passed; raise when it was lost
        (this sync ran past its lease and another took the lock), so nothing more is written."""
        if self.renewed_at is None:
            raise WarehouseError(f"this sync does not hold the sync lock {self.table}")
        if self.clock() - self.renewed_at < self.lease_s / 2:
            return
        sent = self.clock()
        self.executor.run(self.renew(), label=f"renew the sync lock {self.table}")
        current = self._current()
        if current is None or str(current[0]) != self.holder:
            self.renewed_at = None
            other = "nobody" if current is None else str(current[0])
            raise WarehouseError(
                f"this sync lost the sync lock of schema {self.schema} (it ran past its "
                f"{self.lease_s:g} s lease; held now by {other}); what it wrote so far is "
                "consistent. Run the sync again",
                schema=self.schema,
                holder=other,
            )
        self.renewed_at = sent

    def release(self) -> None:
        """Drop the lease; when that fails, it ends by itself when the lease runs out."""
        if self.renewed_at is None:
            return
        self.renewed_at = None
        try:
            self.executor.run(self.unlock(), label=f"release the sync lock {self.table}")
        except WarehouseError as exc:
            log.warning("could not release %s (it frees itself in %g s): %s",
                        self.table, self.lease_s, exc)  # fmt: skip

    def __enter__(self) -> SyncLock:
        self.acquire()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()
