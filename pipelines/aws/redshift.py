"""The warehouse at scale: the warehouse's tables and the Glue job's output loaded into Redshift
(requirements 2.2, 7.3). This module drives a sync; the SQL it runs is `redshift_plan`'s, the
statements reach Redshift through `redshift_exec`, and `redshift_lock` keeps syncs one at a time.

Redshift gets canonical ids only. The local ingest's curated Parquet holds each source's own ids
(entity resolution runs in the load that follows it), so what is loaded per contract table is:

    the warehouse table's changes       the rows of the key buckets whose digests differ from
                                        those Redshift was last synced with
                                        (`pipelines.aws.buckets`), exported to
                                        `_redshift/<table>/` in the lake bucket; Redshift
                                        replaces those buckets whole, so deletes reach it too
    the Glue job's curated objects      recorded by `encore aws etl run` in the run ledger (its
                                        `_resolved = FALSE` rows, ids not linked yet, are dropped)

Each Redshift row says where it came from (`_origin`: 'warehouse' or 'glue'). The warehouse's rows
win: a Glue row never replaces one, and a bucket's replacement drops the warehouse's rows of it,
never Glue's (a key Glue brought that the warehouse never held is not the warehouse's to delete).
Rows from before `_origin` existed count as the warehouse's.

For each table: create it (or add the columns it lacks), read its digests and merged objects;
then, when a bucket changed, replace the changed buckets in one transaction; then merge each
Glue object not merged yet (oldest first), one transaction each (`redshift_plan` lists the SQL).

A sync holds its schema's sync lock (`redshift_lock.SyncLock`, a lease in encore_sync_lock)
from before it reads the digests and the merged objects until its last transaction: two syncs
at once (two schedulers, a user and the scheduler) would otherwise both diff against the same
old digests and replace the same buckets, or merge one Glue object twice (an older one over a
newer). The second waits for the first, up to `lock_wait_s` (ENCORE_REDSHIFT_LOCK_WAIT_S), then
fails naming it; it then finds the first's digests and copies only what changed since.

A sync that fails leaves each table as the last finished transaction left it. An unchanged table
copies nothing. Statements run through the Redshift Data API (polled, with a timeout) or any
DB-API connection (`pipelines.aws.redshift_exec`).
"""

from __future__ import annotations

import json
import logging
import tempfile
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from core.aws import SyncReport, aws_call, client, require
from core.errors import ConfigError
from core.settings import Settings
from core.warehouse import reading
from pipelines.aws.buckets import Bucket, changed, choose_width, export_changes, local_buckets
from pipelines.aws.redshift_exec import (
    DataApiExecutor,
    DbApiExecutor,
    Executor,
    TableColumns,
)
from pipelines.aws.redshift_lock import LEASE_S, LOCK_WAIT_S, SyncLock
from pipelines.aws.redshift_plan import (
    ORIGIN_COLUMN,
    LoadPlan,
    identifier,
    plans,
    transpile,
    warehouse_entries,
)

if TYPE_CHECKING:
    import duckdb

__all__ = [  # the executors, the lock and the plans are importable from here too
    "DataApiExecutor", "DbApiExecutor", "Executor", "LoadObject", "LoadPlan", "SyncLock",
    "TableColumns",
    "add_missing_columns", "glue_objects", "load_warehouse", "plans", "transpile",
    "warehouse_entries",
]  # fmt: skip

log = logging.getLogger(__name__)

SNAPSHOTS: Final = "_redshift"
"""Where the warehouse tables' changes go in the lake bucket (beside raw/, curated/, _glue/)."""


def add_missing_columns(executor: Executor, plan: LoadPlan, report: SyncReport) -> set[str] | None:
    """Give a table created before a migration the columns it added (ALTER TABLE ADD COLUMN);
    the columns it had before, or None when the executor cannot tell."""
    if not isinstance(executor, TableColumns):
        log.warning("cannot check the columns of %s: the executor cannot list them", plan.target)
        return None
    existing = executor.table_columns(plan)
    if not existing:  # nothing visible (e.g. no privilege on information_schema): cannot tell
        log.warning("no columns of %s visible in information_schema; not altering", plan.target)
        return None
    for alter in plan.add_columns(existing):
        executor.run([alter], label=alter[:120])
        report.updated.append(f"{plan.target}: column {alter.split(' ADD COLUMN ', 1)[-1]} added")
    return existing


@dataclass(frozen=True)
class LoadObject:
    """One Parquet object to merge and the columns it holds, in file order."""

    uri: str
    columns: dict[str, str]


def glue_objects(con: duckdb.DuckDBPyConnection, table: str) -> tuple[list[LoadObject], list[str]]:
    """The curated objects of `table` the Glue job wrote, oldest run first, from the run ledger
    (`encore aws etl run` records them); and the runs skipped with why."""
    from pipelines.aws.glue_etl import PIPELINE
    from pipelines.lineage import same_file

    rows = con.execute(
        "SELECT run_id, inputs->0 FROM pipeline_runs WHERE pipeline = ? AND entity = ? "
        "AND status = 'succeeded' ORDER BY started_at, run_id",
        [PIPELINE, table],
    ).fetchall()
    found: list[LoadObject] = []
    skipped: list[str] = []
    for run_id, first_input in rows:
        read = json.loads(first_input) if first_input else {}
        outputs = [same_file(o) for o in read.get("outputs", []) if f"/curated/{table}/" in o]
        columns: dict[str, Any] = (read.get("datasets") or {}).get(table) or {}
        if outputs and not columns:
            skipped.append(f"{table}: Glue run {run_id} was recorded without its columns; "
                           "record it again with `encore aws etl run`")  # fmt: skip
            continue
        found += [LoadObject(uri, {str(k): str(v) for k, v in columns.items()}) for uri in outputs]
    return found, skipped


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {identifier(table)}").fetchone()
    return int(row[0]) if row else 0


def _upload(s3: Any, bucket: str, key: str, path: Path) -> str:
    """Upload one file of a sync; its URI."""
    with aws_call(f"upload s3://{bucket}/{key}", key=key):
        s3.upload_file(str(path), bucket, key)
    return f"s3://{bucket}/{key}"


def _drop_objects(s3: Any, bucket: str, table: str, report: SyncReport) -> None:
    """Delete the table's sync files (merged now, or left by a sync that failed)."""
    prefix = f"{SNAPSHOTS}/{table}/"
    with aws_call(f"list s3://{bucket}/{prefix}", table=table):
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    for key in keys:
        with aws_call(f"delete s3://{bucket}/{key}", key=key):
            s3.delete_object(Bucket=bucket, Key=key)
        report.deleted.append(f"s3://{bucket}/{key}")


@dataclass
class _Table:
    """One table's sync: what Redshift holds of it, and what is to be loaded."""

    plan: LoadPlan
    rows: int  # the warehouse's
    glue: list[LoadObject]
    synced: dict[str, Bucket] = field(default_factory=dict)
    merged: set[str] = field(default_factory=set)  # Glue objects merged before
    whole: bool = False  # replace every bucket: Redshift's rows have no known origin
    replace: list[str] | None = None  # the statements replacing the changed buckets
    note: str = ""


def _prepare(executor: Executor, item: _Table, report: SyncReport) -> bool:
    """Create or update the table in Redshift and read its digests and merged objects; False
    when there is nothing to sync (no rows, no Glue output, never synced)."""
    plan = item.plan
    if not item.rows and not item.glue:
        columns = executor.table_columns(plan) if isinstance(executor, TableColumns) else set()
        if not columns:
            return False
    for ddl in plan.ddl():  # each idempotent: no transaction needed
        executor.run([ddl], label=ddl[:120])
    existing = add_missing_columns(executor, plan, report)
    if existing is not None and ORIGIN_COLUMN not in {c.lower() for c in existing}:
        executor.run([plan.add_origin()], label=f"add {ORIGIN_COLUMN} to {plan.target}")
        # its rows' origins are unknown: the whole table is replaced (no digests yet) and
        # Glue's objects are merged again after it, so Glue's rows come back as Glue's
        item.merged, item.whole = set(), True
    else:
        found = executor.query(plan.loaded(), label=f"loaded {plan.target}")
        item.merged = {str(row[0]) for row in found}
    rows = executor.query(plan.synced(), label=f"synced buckets of {plan.target}")
    item.synced = {str(b): Bucket(str(d), int(n)) for b, d, n in rows}
    return True


def _export(
    con: duckdb.DuckDBPyConnection, item: _Table, folder: Path, s3: Any, bucket: str, role: str
) -> None:
    """Diff the table against Redshift's digests; upload the changes and plan their merge."""
    plan = item.plan
    columns = [identifier(c) for c in plan.file_columns]
    width, whole = choose_width(item.rows, item.synced)
    whole = whole or item.whole
    local = local_buckets(con, identifier(plan.table), identifier(plan.key), columns, width)
    replaced = set() if whole else changed(local, item.synced)
    if not whole and not replaced:
        item.note = f"{plan.target}: unchanged since the last sync ({len(local)} bucket(s))"
        return
    export = export_changes(
        con, identifier(plan.table), identifier(plan.key), columns, width=width, local=local,
        replaced=replaced, whole=whole, folder=folder,
    )  # fmt: skip
    name = f"{SNAPSHOTS}/{plan.table}/{uuid.uuid4().hex[:16]}"
    rows_uri = (
        _upload(s3, bucket, f"{name}.rows.parquet", export.rows_file) if export.rows_file else None
    )
    buckets_uri = (
        _upload(s3, bucket, f"{name}.buckets.parquet", export.buckets_file)
        if export.replaced
        else None
    )
    item.replace = plan.replace_buckets(rows_uri, buckets_uri, role, width=width, whole=whole)
    scope = (
        "every bucket" if whole else f"{export.replaced} of {len(local | item.synced)} bucket(s)"
    )
    item.note = f"{plan.target}: {scope} replaced, {export.rows} row(s) copied"


def load_warehouse(
    settings: Settings,
    *,
    executor: Executor | None = None,
    s3: Any = None,
    dialect: str = "redshift",
    lock_wait_s: float = LOCK_WAIT_S,
    lock_poll_s: float = 2.0,
) -> SyncReport:
    """Create the warehouse tables in Redshift, replace the key buckets that changed since the
    last sync and merge the Glue objects not merged yet (see the module docstring), holding the
    schema's sync lock; waits up to `lock_wait_s` for a sync holding it (checking every
    `lock_poll_s`), then raises a WarehouseError naming it.

    `dialect` is the SQL dialect of the executor's database (PostgreSQL in the tests).
    """
    require(settings, "lake_bucket", "redshift_iam_role")
    if not (settings.redshift_workgroup or settings.redshift_cluster_id):
        raise ConfigError("set ENCORE_REDSHIFT_WORKGROUP or ENCORE_REDSHIFT_CLUSTER_ID first")
    if not settings.warehouse_file.exists():
        raise ConfigError(f"no warehouse at {settings.warehouse_file}; ingest data first")
    with reading(settings) as con:
        found, skipped = plans(warehouse_entries(con), settings.redshift_schema, dialect)
        report = SyncReport("warehouse", skipped=skipped)
        tables: list[_Table] = []
        for plan in found:
            from_glue, not_loaded = glue_objects(con, plan.table)
            report.skipped += not_loaded
            tables.append(_Table(plan, _count(con, plan.table), from_glue))
    if not tables:
        report.skipped.append("no warehouse tables yet; ingest or generate data first")
        return report
    executor = executor or DataApiExecutor(
        client("redshift-data", settings),
        database=settings.redshift_database,
        workgroup=settings.redshift_workgroup,
        cluster_id=settings.redshift_cluster_id,
        db_user=settings.redshift_db_user,
        secret_arn=settings.redshift_secret_arn,
        timeout_s=settings.redshift_timeout_s,
    )
    lock = SyncLock(
        executor, settings.redshift_schema, dialect=dialect, wait_s=lock_wait_s,
        lease_s=max(LEASE_S, 2 * settings.redshift_timeout_s), poll_s=lock_poll_s,
    )  # fmt: skip
    with lock:
        _sync(settings, executor, lock, tables, report, s3 or client("s3", settings))
    return report


def _sync(
    settings: Settings,
    executor: Executor,
    lock: SyncLock,
    tables: list[_Table],
    report: SyncReport,
    s3: Any,
) -> None:
    """Diff, export and load each table, holding the sync lock."""
    bucket, role = str(settings.lake_bucket), str(settings.redshift_iam_role)
    # Redshift first: the warehouse stays open only while its changes are exported
    tables = [item for item in tables if _prepare(executor, item, report)]
    with tempfile.TemporaryDirectory(prefix="encore-redshift-") as tmp, reading(settings) as con:
        for item in tables:
            _export(con, item, Path(tmp), s3, bucket, role)
    for item in tables:
        plan = item.plan
        if item.replace is not None:
            lock.check()
            executor.run(item.replace, label=f"replace changed buckets of {plan.target}")
            report.updated.append(item.note)
            _drop_objects(s3, bucket, plan.table, report)
        elif item.note:
            report.skipped.append(item.note)
        for glue in item.glue:
            if glue.uri in item.merged:
                continue
            staged = replace(plan, file_columns=glue.columns)
            lock.check()
            executor.run(staged.load(glue.uri, role), label=f"merge {glue.uri} into {plan.target}")
            report.updated.append(f"{plan.target}: merged {glue.uri}")
        merged = sum(glue.uri in item.merged for glue in item.glue)
        if merged:
            report.skipped.append(f"{plan.target}: {merged} Glue object(s) merged before")
