"""Short-lived warehouse connections for tools, so readers and pipeline writers take turns.

DuckDB lets one process write a file and refuses other processes while it does (and a reader in
one process blocks a writer in another). Tools therefore open a connection per call, close it at
once, and wait briefly when a pipeline holds the file instead of failing the user's question.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import duckdb

from core.errors import WarehouseError
from core.settings import Settings
from core.warehouse import connect_reader, connect_writer

log = logging.getLogger(__name__)

_LOCK_MARKERS = ("Could not set lock", "Conflicting lock", "database is locked")


def _is_lock_conflict(exc: BaseException) -> bool:
    text = str(exc)
    return any(marker in text for marker in _LOCK_MARKERS)


def _open_with_retry(
    opener: Callable[[Settings], duckdb.DuckDBPyConnection], settings: Settings, wait_s: float
) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + wait_s
    delay = 0.05
    while True:
        try:
            return opener(settings)
        except WarehouseError as exc:
            if not _is_lock_conflict(exc) or time.monotonic() >= deadline:
                if _is_lock_conflict(exc):
                    raise WarehouseError(
                        "the warehouse is busy with a pipeline load; try again in a moment",
                        path=str(settings.warehouse_file),
                    ) from exc
                raise
            log.info("warehouse locked by another process; retrying in %.2fs", delay)
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


@contextmanager
def reading(settings: Settings, *, wait_s: float = 30.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A locked-down read-only connection for one call, closed afterwards."""
    con = _open_with_retry(connect_reader, settings, wait_s)
    try:
        yield con
    finally:
        con.close()


@contextmanager
def writing(settings: Settings, *, wait_s: float = 60.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection for one call (ingestion triggers, scores); closed afterwards."""
    con = _open_with_retry(connect_writer, settings, wait_s)
    try:
        yield con
    finally:
        con.close()
