"""The warehouse at scale: the warehouse's tables and the Glue job's output loaded into Redshift
(requirements 2.2, 7.3).

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

For each table:

    CREATE SCHEMA / CREATE TABLE IF NOT EXISTS   DDL of the DuckDB schema, transpiled by sqlglot,
                                                 one statement at a time (each idempotent); also
                                                 encore_loads (the Glue objects merged) and
                                                 encore_sync_state (each bucket's digest)
    ALTER TABLE ... ADD COLUMN                   columns a migration added since the table was
                                                 created (information_schema says which), and
                                                 `_origin`
    then, in one transaction, when a bucket changed:
    CREATE TEMPORARY TABLE stage_<t>, buckets_<t>   the changed rows; the buckets and digests
    COPY ... FROM 's3://...' FORMAT AS PARQUET
    DELETE FROM <t> WHERE <bucket> IN (replaced)    the warehouse's rows of the replaced buckets
    DELETE FROM <t> USING stage_<t> ...             Glue rows of keys the warehouse now holds
    INSERT INTO <t> SELECT ..., 'warehouse'
    DELETE + INSERT encore_sync_state               the digests the rows now match
    then per Glue object not merged yet (oldest first), in one transaction:
    CREATE TEMPORARY TABLE stage_<t>; COPY           the curated file's columns, in file order
    DELETE FROM <t> USING stage_<t> ...              Glue's earlier rows of the staged keys
    INSERT INTO <t> SELECT ... WHERE _rank = 1       the file's last line per key winning, keys
                                                     the warehouse holds left out
    INSERT INTO encore_loads VALUES (<object>)       in the same transaction: merged exactly once

A sync holds its schema's sync lock (`redshift_exec.SyncLock`, a lease in encore_sync_lock)
from before it reads the digests and the merged objects until its last transaction: two syncs
at once (two schedulers, a user and the scheduler) would otherwise both diff against the same
old digests and replace the same buckets, or merge one Glue object twice (an older one over a
newer). The second waits for the first, up to `lock_wait_s`, then fails naming it; it then finds
the first's digests and copies only what changed since.

A sync that fails leaves each table as the last finished transaction left it. An unchanged table
copies nothing. Statements run through the Redshift Data API (polled, with a timeout) or any
DB-API connection (`pipelines.aws.redshift_exec`).
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import sqlglot
from sqlglot import exp

from core.aws import SyncReport, aws_call, client, require
from core.errors import ConfigError
from core.schemas import ENTITY_SCHEMAS
from core.settings import Settings
from core.warehouse import CONTRACT_TABLES, reading
from pipelines.aws.buckets import (
    Bucket,
    bucket_sql,
    changed,
    choose_width,
    export_changes,
    local_buckets,
)
from pipelines.aws.redshift_exec import (
    DataApiExecutor,
    DbApiExecutor,
    Executor,
    SyncLock,
    TableColumns,
)

if TYPE_CHECKING:
    import duckdb

__all__ = [  # the executors are importable from here too
    "DataApiExecutor", "DbApiExecutor", "Executor", "LoadObject", "LoadPlan", "SyncLock",
    "TableColumns",
    "add_missing_columns", "glue_objects", "load_warehouse", "plans", "transpile",
    "warehouse_entries",
]  # fmt: skip

log = logging.getLogger(__name__)

_IDENT: Final = re.compile(r"^[a-z_][a-z0-9_]*$")
LOADS_TABLE: Final = "encore_loads"
STATE_TABLE: Final = "encore_sync_state"
"""Each table's key buckets and the digests Redshift's rows of them match (one per schema)."""
SNAPSHOTS: Final = "_redshift"
"""Where the warehouse tables' changes go in the lake bucket (beside raw/, curated/, _glue/)."""
ORIGIN_COLUMN: Final = "_origin"
"""Where a Redshift row came from: 'warehouse' (the sync's buckets) or 'glue' (a Glue object)."""
LOCK_WAIT_S: Final = 600.0
"""How long a sync waits for another one on the same schema to finish."""
LEASE_S: Final = 900.0
"""The sync lock's lease (at least twice the statement timeout): how long the lock of a sync
that died stays taken."""
ORDER_COLUMN: Final = "_line"
"""The curated files' line number: among rows sharing a key, the last line wins."""
RESOLVED_COLUMN: Final = "_resolved"
"""Set by the Glue job: false on a record whose source key entity_map does not link yet. Its
ids are the source's, not canonical, so it waits for the resolver instead of being merged."""


def _ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ConfigError(f"not a plain SQL identifier: {name!r}", identifier=name)
    return name


def transpile(sql: str, dialect: str) -> str:
    """DuckDB SQL as `dialect` writes it ("redshift"; "postgres" in the tests).

    Redshift has no ENUM type: a column with a fixed vocabulary (ticket_sales.channel) is a
    VARCHAR there, as the curated Parquet holds it.
    """
    tree = sqlglot.parse_one(sql, read="duckdb").transform(_enum_as_varchar)
    return tree.sql(dialect=dialect)


def _enum_as_varchar(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.DataType) and node.is_type(exp.DataType.Type.ENUM):
        return exp.DataType.build("VARCHAR", dialect="duckdb")
    return node


@dataclass(frozen=True)
class LoadPlan:
    """The SQL that creates one warehouse table and merges a curated Parquet file into it."""

    table: str
    schema: str
    key: str
    target_columns: dict[str, str]  # name -> DuckDB type, the warehouse's
    file_columns: dict[str, str]  # name -> DuckDB type, the curated Parquet's, in file order
    dialect: str = "redshift"

    @property
    def target(self) -> str:
        return f"{_ident(self.schema)}.{_ident(self.table)}"

    @property
    def stage(self) -> str:
        return f"stage_{_ident(self.table)}"

    @property
    def buckets(self) -> str:
        """The temporary table of the buckets a sync replaces, and their new digests."""
        return f"buckets_{_ident(self.table)}"

    @property
    def loads(self) -> str:
        """The table recording which objects were merged (one per schema)."""
        return f"{_ident(self.schema)}.{LOADS_TABLE}"

    @property
    def state(self) -> str:
        """The table of the digests each table's buckets were last synced with (one per schema)."""
        return f"{_ident(self.schema)}.{STATE_TABLE}"

    @property
    def merged_columns(self) -> list[str]:
        """Target columns the file carries (others stay NULL on insert)."""
        return [c for c in self.target_columns if c in self.file_columns]

    def ddl(self) -> list[str]:
        """Create the schema and the tables when missing (Redshift has no CHECK constraints)."""
        columns = ", ".join(f"{_ident(c)} {t}" for c, t in self.target_columns.items())
        return [
            transpile(f"CREATE SCHEMA IF NOT EXISTS {_ident(self.schema)}", self.dialect),
            transpile(
                f"CREATE TABLE IF NOT EXISTS {self.target} ({columns}, "
                f"PRIMARY KEY ({_ident(self.key)}))",
                self.dialect,
            ),
            transpile(
                f"CREATE TABLE IF NOT EXISTS {self.loads} (object_uri VARCHAR PRIMARY KEY, "
                "table_name VARCHAR NOT NULL, loaded_at TIMESTAMP NOT NULL)",
                self.dialect,
            ),
            transpile(
                f"CREATE TABLE IF NOT EXISTS {self.state} (table_name VARCHAR NOT NULL, "
                "bucket VARCHAR NOT NULL, digest VARCHAR NOT NULL, row_count BIGINT NOT NULL, "
                "synced_at TIMESTAMP NOT NULL, PRIMARY KEY (table_name, bucket))",
                self.dialect,
            ),
        ]

    def columns_query(self) -> str:
        """The query of the columns the table has in the database (it may predate a migration)."""
        return transpile(
            "SELECT column_name FROM information_schema.columns "
            f"WHERE table_schema = '{_ident(self.schema)}' AND table_name = '{_ident(self.table)}'",
            self.dialect,
        )

    def add_columns(self, existing: set[str]) -> list[str]:
        """ALTER TABLE ... ADD COLUMN for each warehouse column the database table lacks.

        A table created before a migration added columns (0003: concerts.currency, starts_at,
        venues.timezone) would otherwise make every merge naming them fail.
        """
        present = {c.lower() for c in existing}
        return [
            transpile(f"ALTER TABLE {self.target} ADD COLUMN {_ident(c)} {t}", self.dialect)
            for c, t in self.target_columns.items()
            if c.lower() not in present
        ]

    def add_origin(self) -> str:
        """ALTER TABLE ... ADD COLUMN _origin (tables synced before it existed lack it)."""
        return transpile(
            f"ALTER TABLE {self.target} ADD COLUMN {ORIGIN_COLUMN} VARCHAR", self.dialect
        )

    def loaded(self) -> str:
        """The query of the objects already merged into this table."""
        return transpile(
            f"SELECT object_uri FROM {self.loads} WHERE table_name = '{_ident(self.table)}'",
            self.dialect,
        )

    def synced(self) -> str:
        """The query of the buckets, digests and row counts Redshift's rows match."""
        return transpile(
            f"SELECT bucket, digest, row_count FROM {self.state} "
            f"WHERE table_name = '{_ident(self.table)}'",
            self.dialect,
        )

    def create_stage(self) -> str:
        columns = ", ".join(f"{_ident(c)} {t}" for c, t in self.file_columns.items())
        return transpile(f"CREATE TEMPORARY TABLE {self.stage} ({columns})", self.dialect)

    def copy(self, uri: str, iam_role: str, into: str | None = None) -> str:
        """Redshift's COPY of one Parquet object into a staging table (columns by position)."""
        if not uri.startswith("s3://") or "'" in uri or "'" in iam_role:
            raise ConfigError(f"cannot COPY from {uri!r} with role {iam_role!r}")
        return f"COPY {into or self.stage} FROM '{uri}' IAM_ROLE '{iam_role}' FORMAT AS PARQUET"

    def replace_buckets(
        self,
        rows_uri: str | None,
        buckets_uri: str | None,
        iam_role: str,
        *,
        width: int,
        whole: bool,
    ) -> list[str]:
        """Every statement that replaces the changed buckets (all of the warehouse's rows when
        `whole`) with the staged rows and records their digests, for one transaction.

        `rows_uri`: the rows of the replaced buckets (None when they are all empty now);
        `buckets_uri`: the replaced buckets' new digests (see `buckets.export_changes`; None
        when there are none: a table emptied whole). Empty objects are never COPYed.
        """
        key, table = _ident(self.key), _ident(self.table)
        columns = ", ".join(_ident(c) for c in self.merged_columns)
        ours = f"({ORIGIN_COLUMN} IS NULL OR {ORIGIN_COLUMN} <> 'glue')"
        replaced = f"IN (SELECT bucket FROM {self.buckets})"
        return [
            self.create_stage(),
            *([self.copy(rows_uri, iam_role)] if rows_uri else []),
            transpile(
                f"CREATE TEMPORARY TABLE {self.buckets} (bucket VARCHAR, digest VARCHAR, "
                "row_count BIGINT)",
                self.dialect,
            ),
            *([self.copy(buckets_uri, iam_role, into=self.buckets)] if buckets_uri else []),
            transpile(
                f"DELETE FROM {self.target} WHERE {ours}"
                + ("" if whole else f" AND {bucket_sql(key, width)} {replaced}"),
                self.dialect,
            ),
            transpile(
                f"DELETE FROM {self.target} USING {self.stage} "
                f"WHERE {self.target}.{key} = {self.stage}.{key}",
                self.dialect,
            ),
            transpile(
                f"INSERT INTO {self.target} ({columns}, {ORIGIN_COLUMN}) "
                f"SELECT {columns}, 'warehouse' FROM {self.stage}",
                self.dialect,
            ),
            transpile(
                f"DELETE FROM {self.state} WHERE table_name = '{table}'"
                + ("" if whole else f" AND bucket {replaced}"),
                self.dialect,
            ),
            transpile(
                f"INSERT INTO {self.state} (table_name, bucket, digest, row_count, synced_at) "
                f"SELECT '{table}', bucket, digest, row_count, CURRENT_TIMESTAMP "
                f"FROM {self.buckets} WHERE digest IS NOT NULL",
                self.dialect,
            ),
            transpile(f"DROP TABLE {self.stage}", self.dialect),
            transpile(f"DROP TABLE {self.buckets}", self.dialect),
        ]

    def merge(self) -> list[str]:
        """Merge the staged Glue rows (resolved ones only), then drop the staging table.

        A staged key replaces Glue's earlier row of it; a key the warehouse's rows hold is left
        as the warehouse has it.
        """
        key = _ident(self.key)
        columns = ", ".join(_ident(c) for c in self.merged_columns)
        order = ORDER_COLUMN if ORDER_COLUMN in self.file_columns else key
        unresolved = (
            [transpile(f"DELETE FROM {self.stage} WHERE {RESOLVED_COLUMN} = FALSE", self.dialect)]
            if RESOLVED_COLUMN in self.file_columns
            else []
        )
        return [
            *unresolved,
            transpile(
                f"DELETE FROM {self.target} USING {self.stage} "
                f"WHERE {self.target}.{key} = {self.stage}.{key} "
                f"AND {self.target}.{ORIGIN_COLUMN} = 'glue'",
                self.dialect,
            ),
            transpile(
                f"INSERT INTO {self.target} ({columns}, {ORIGIN_COLUMN}) "
                f"SELECT {columns}, 'glue' FROM ("
                f"SELECT {columns}, ROW_NUMBER() OVER (PARTITION BY {key} ORDER BY {order} DESC) "
                f"AS _rank FROM {self.stage}) AS ranked WHERE _rank = 1 AND NOT EXISTS "
                f"(SELECT 1 FROM {self.target} AS kept WHERE kept.{key} = ranked.{key})",
                self.dialect,
            ),
            transpile(f"DROP TABLE {self.stage}", self.dialect),
        ]

    def load(self, uri: str, iam_role: str) -> list[str]:
        """Every statement that merges one Glue object and records it, for one transaction."""
        table = _ident(self.table)
        record = [
            transpile(f"DELETE FROM {self.loads} WHERE object_uri = '{uri}'", self.dialect),
            transpile(
                f"INSERT INTO {self.loads} (object_uri, table_name, loaded_at) "
                f"VALUES ('{uri}', '{table}', CURRENT_TIMESTAMP)",
                self.dialect,
            ),
        ]
        return [self.create_stage(), self.copy(uri, iam_role), *self.merge(), *record]


def plans(
    entries: Sequence[Mapping[str, Any]], schema: str, dialect: str = "redshift"
) -> tuple[list[LoadPlan], list[str]]:
    """A plan per contract table of `entries` (`warehouse_entries`, or the catalog's), with
    the warehouse's columns (an empty table too: its rows may have been deleted since the last
    sync); and what was skipped with why."""
    by_name = {str(e["dataset"]): e for e in entries}
    found: list[LoadPlan] = []
    for table in CONTRACT_TABLES:
        warehouse = by_name.get(f"warehouse/{table}")
        if warehouse is None or table not in ENTITY_SCHEMAS:
            continue  # not in the warehouse (marts are rebuilt, not loaded)
        columns = _schema(warehouse["schema"])
        key = next(iter(ENTITY_SCHEMAS[table].model_fields))
        found.append(LoadPlan(table, schema, key, columns, columns, dialect))
    return found, []


def warehouse_entries(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The contract tables as `plans` takes them (catalog entries), read from the warehouse's
    own schema: a generated warehouse has no catalog entries, and the catalog's columns may
    predate a migration."""
    listed = ", ".join(f"'{t}'" for t in CONTRACT_TABLES)
    columns: dict[str, dict[str, str]] = {}
    for table, column, data_type in con.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_catalog = current_database() AND table_schema = 'main' "
        f"AND table_name IN ({listed}) ORDER BY table_name, ordinal_position"
    ).fetchall():
        columns.setdefault(str(table), {})[str(column)] = str(data_type)
    return [{"dataset": f"warehouse/{t}", "schema": c} for t, c in columns.items()]


def _schema(value: Any) -> dict[str, str]:
    data = json.loads(value) if isinstance(value, str) else dict(value)
    return {str(k): str(v) for k, v in data.items()}


# -- the load -------------------------------------------------------------------------------


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
    row = con.execute(f"SELECT count(*) FROM {_ident(table)}").fetchone()
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
    columns = [_ident(c) for c in plan.file_columns]
    width, whole = choose_width(item.rows, item.synced)
    whole = whole or item.whole
    local = local_buckets(con, _ident(plan.table), _ident(plan.key), columns, width)
    replaced = set() if whole else changed(local, item.synced)
    if not whole and not replaced:
        item.note = f"{plan.target}: unchanged since the last sync ({len(local)} bucket(s))"
        return
    export = export_changes(
        con, _ident(plan.table), _ident(plan.key), columns, width=width, local=local,
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
