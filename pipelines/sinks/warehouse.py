"""Loading into the DuckDB warehouse.

`rebuild` replaces the whole warehouse atomically: it builds a new file beside the old one and
swaps it in with one rename, so a run that dies half-way leaves the old warehouse untouched.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from core.errors import WarehouseError
from core.settings import Settings
from core.warehouse import CONTRACT_TABLES, connect_reader, connect_writer, table_counts
from pipelines.integrity import LOGICAL_FOREIGN_KEYS, LOGICAL_KEYS
from pipelines.marts import refresh_concert_performance

log = logging.getLogger(__name__)

Chunks = Iterable[tuple[str, pa.Table]]


def insert_chunk(con: duckdb.DuckDBPyConnection, table: str, chunk: pa.Table) -> None:
    """Append a chunk to a contract table, matching columns by name and casting to its types."""
    if table not in CONTRACT_TABLES:
        raise WarehouseError(
            f"{table!r} is not a warehouse table; expected one of {CONTRACT_TABLES}"
        )
    columns = ", ".join(f'"{name}"' for name in chunk.column_names)
    try:
        # `chunk` is found by DuckDB's replacement scan of this frame's locals: zero-copy Arrow
        con.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM chunk")
    except duckdb.Error as exc:
        raise WarehouseError(f"loading {table} failed: {exc}", table=table) from exc


def rebuild(
    settings: Settings,
    chunks: Chunks,
    *,
    source: str,
    parameters: dict[str, Any],
    on_chunk: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Build a fresh warehouse from `chunks` and swap it in atomically; return the table counts.

    `source` and `parameters` are recorded in `warehouse_builds`; `on_chunk(table, rows)` is
    called after each chunk is loaded (for progress bars).
    """
    target = settings.warehouse_file
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.building-{os.getpid()}")
    _remove(staging)
    staging_settings = settings.model_copy(update={"warehouse_path": staging})
    try:
        con = connect_writer(staging_settings)
        try:
            con.execute("BEGIN TRANSACTION")
            for table, chunk in chunks:
                insert_chunk(con, table, chunk)
                if on_chunk:
                    on_chunk(table, chunk.num_rows)
            _verify_logical_keys(con)
            refresh_concert_performance(con)
            counts = table_counts(con)
            con.execute(
                "INSERT INTO warehouse_builds (source, parameters, total_rows) VALUES (?, ?, ?)",
                [source, json.dumps(parameters, default=str), sum(counts.values())],
            )
            con.execute("COMMIT")
            con.execute("CHECKPOINT")
        finally:
            con.close()
        _release(target)
        staging.replace(target)
    except BaseException:
        _remove(staging)
        raise
    log.info("rebuilt warehouse %s: %s", target, counts)
    return counts


def _verify_logical_keys(con: duckdb.DuckDBPyConnection) -> None:
    """The keys and references the warehouse does not enforce, checked before a swap."""
    for table, key in LOGICAL_KEYS.items():
        row = con.execute(
            f"SELECT count(*) FROM (SELECT {key} FROM {table} GROUP BY 1 HAVING count(*) > 1)"
        ).fetchone()
        if row and row[0]:
            raise WarehouseError(f"loading {table} failed: {row[0]:,} duplicate {key} values")
    for table, column, parent, parent_column in LOGICAL_FOREIGN_KEYS:
        row = con.execute(
            f"SELECT count(*) FROM {table} t WHERE t.{column} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {parent} p WHERE p.{parent_column} = t.{column})"
        ).fetchone()
        if row and row[0]:
            raise WarehouseError(
                f"loading {table} failed: {row[0]:,} rows reference no {parent} ({column})"
            )


def _release(target: Path) -> None:
    """Make sure no writer holds the old warehouse and its write-ahead log is merged."""
    if not target.exists():
        _remove(
            target.with_name(target.name + ".wal")
        )  # a stray log must not replay on the new file
        return
    try:
        duckdb.connect(str(target)).close()  # takes the write lock; closing checkpoints the WAL
    except duckdb.Error as exc:
        raise WarehouseError(
            f"the warehouse at {target} is in use by another process ({exc}); stop it and retry",
            path=str(target),
        ) from exc


def _remove(path: Path) -> None:
    for candidate in (path, path.with_name(path.name + ".wal")):
        candidate.unlink(missing_ok=True)


def last_build(settings: Settings) -> dict[str, Any] | None:
    """The newest `warehouse_builds` entry with current table counts; None without a warehouse."""
    if not settings.warehouse_file.exists():
        return None
    con = connect_reader(settings)
    try:
        row = con.execute(
            "SELECT built_at, source, parameters FROM warehouse_builds "
            "ORDER BY built_at DESC LIMIT 1"
        ).fetchone()
        counts = table_counts(con)
    finally:
        con.close()
    if row is None:
        return {"counts": counts}
    return {
        "built_at": row[0],
        "source": row[1],
        "parameters": json.loads(row[2]),
        "counts": counts,
    }


def upsert(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rows: str,
    key: str,
    columns: list[str],
    *,
    appends: bool = False,
) -> tuple[int, int]:
    """Merge `rows` (a relation with `columns`) into `table` by `key`; return (inserted, updated).

    Known values are never erased: a NULL in the incoming row keeps what the table has. Rows equal
    to what is stored change nothing, so loading the same input twice is a no-op.

    The cost follows the batch, not the table: only stored rows inside the batch's key range are
    read (zone maps skip the rest, so appending new, increasing ids reads none), and hash tables
    are built from the batch, never from every stored key. `appends` says the caller has already
    found no stored key in the batch's range (`pipelines.marts.before_load`).
    """
    names = ", ".join(f'"{c}"' for c in columns)
    k = f'"{key}"'
    low, high = (None, None) if appends else _key_range(con, rows, k)
    if appends or low is None or not _any_between(con, table, k, low, high):  # a plain append
        return _changed(con, f"INSERT INTO {table} ({names}) SELECT {names} FROM {rows}"), 0
    stored, changed = "_upsert_stored", "_upsert_changed"
    # the stored rows this batch names (a semi-join: the batch is the build side)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {stored} AS SELECT t.rowid AS _rowid, t.* FROM {table} t "
        f"WHERE t.{k} BETWEEN $low AND $high AND t.{k} IN (SELECT {k} FROM {rows})",
        {"low": low, "high": high},
    )
    added = _changed(
        con,
        f"INSERT INTO {table} ({names}) SELECT {names} FROM {rows} r "
        f"WHERE NOT EXISTS (SELECT 1 FROM {stored} s WHERE s.{k} = r.{k})",
    )
    others = [c for c in columns if c != key]
    merged = {c: f'coalesce(r."{c}", s."{c}")' for c in others}
    differs = " OR ".join(f'{merged[c]} IS DISTINCT FROM s."{c}"' for c in others) or "false"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {changed} AS SELECT s._rowid, s.{k}"
        + "".join(f', {merged[c]} AS "{c}"' for c in others)
        + f" FROM {stored} s JOIN {rows} r ON r.{k} = s.{k} WHERE {differs}"
    )
    if table in LOGICAL_KEYS:  # no index: rewriting a row costs far less than updating it
        updated = _changed(
            con, f"DELETE FROM {table} WHERE rowid IN (SELECT _rowid FROM {changed})"
        )
        con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {changed}")
    else:  # a key index: rows referenced by foreign keys must stay where they are
        assignments = ", ".join(f'"{c}" = n."{c}"' for c in others)
        updated = (
            _changed(
                con,
                f"UPDATE {table} t SET {assignments} FROM {changed} n WHERE t.{k} = n.{k}",
            )
            if others
            else 0
        )
    con.execute(f"DROP TABLE {stored}")
    con.execute(f"DROP TABLE {changed}")
    return added, updated


def _key_range(con: duckdb.DuckDBPyConnection, rows: str, key: str) -> tuple[Any, Any]:
    """The smallest and largest key of `rows` (None, None when it has none)."""
    row = con.execute(f"SELECT min({key}), max({key}) FROM {rows}").fetchone()
    return (row[0], row[1]) if row else (None, None)


def _any_between(con: duckdb.DuckDBPyConnection, table: str, key: str, low: Any, high: Any) -> bool:
    """Whether `table` holds a key in [low, high]; zone maps answer most of it unread."""
    row = con.execute(
        f"SELECT EXISTS (SELECT 1 FROM {table} WHERE {key} BETWEEN $low AND $high)",
        {"low": low, "high": high},
    ).fetchone()
    return bool(row and row[0])


def _count(con: duckdb.DuckDBPyConnection, relation: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {relation}").fetchone()
    return int(row[0]) if row else 0


def _changed(
    con: duckdb.DuckDBPyConnection, sql: str, parameters: dict[str, Any] | None = None
) -> int:
    """Run an INSERT or UPDATE; the number of rows it wrote."""
    row = con.execute(sql, parameters).fetchone()
    return int(row[0]) if row else 0
