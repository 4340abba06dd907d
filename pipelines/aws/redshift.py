"""The warehouse at scale: curated Parquet loaded into Redshift (requirements 2.2, 7.3).

For each contract table with curated Parquet on the S3 lake:

    CREATE SCHEMA / CREATE TABLE IF NOT EXISTS   DDL of the DuckDB schema, transpiled by sqlglot,
                                                 one statement at a time (each idempotent)
    CREATE TABLE IF NOT EXISTS encore_loads      the objects already merged
    ALTER TABLE ... ADD COLUMN                   columns a migration added since the table was
                                                 created (information_schema says which)
    then per Parquet object not merged yet, oldest first, in one transaction:
    CREATE TEMPORARY TABLE stage_<t>             the curated file's columns, in file order
    COPY stage_<t> FROM 's3://...' FORMAT AS PARQUET
    DELETE FROM <t> USING stage_<t> ...          merge: replace rows whose key is staged,
    INSERT INTO <t> SELECT ... WHERE _rank = 1   the file's last line per key winning
    DROP TABLE stage_<t>
    INSERT INTO encore_loads VALUES (<object>)   in the same transaction: merged exactly once

Objects are merged in the order they were written (upload time, then key), so a later run wins.
Statements run through the Redshift Data API (polled, with a timeout) or any DB-API connection.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol, runtime_checkable

import sqlglot

from core.aws import SyncReport, aws_call, client, require
from core.errors import ConfigError, WarehouseError
from core.schemas import ENTITY_SCHEMAS
from core.settings import Settings
from core.warehouse import CONTRACT_TABLES, reading
from pipelines.catalog import catalog

log = logging.getLogger(__name__)

_IDENT: Final = re.compile(r"^[a-z_][a-z0-9_]*$")
_DONE: Final = "FINISHED"
_FAILED: Final = ("FAILED", "ABORTED")
LOADS_TABLE: Final = "encore_loads"
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
    """DuckDB SQL as `dialect` writes it ("redshift"; "postgres" in the tests)."""
    return sqlglot.transpile(sql, read="duckdb", write=dialect)[0]


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
    def loads(self) -> str:
        """The table recording which objects were merged (one per schema)."""
        return f"{_ident(self.schema)}.{LOADS_TABLE}"

    @property
    def merged_columns(self) -> list[str]:
        """Target columns the file carries (others stay NULL on insert)."""
        return [c for c in self.target_columns if c in self.file_columns]

    def ddl(self) -> list[str]:
        """Create the schema and the table when missing (Redshift has no CHECK constraints)."""
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

    def loaded(self) -> str:
        """The query of the objects already merged into this table."""
        return transpile(
            f"SELECT object_uri FROM {self.loads} WHERE table_name = '{_ident(self.table)}'",
            self.dialect,
        )

    def create_stage(self) -> str:
        columns = ", ".join(f"{_ident(c)} {t}" for c, t in self.file_columns.items())
        return transpile(f"CREATE TEMPORARY TABLE {self.stage} ({columns})", self.dialect)

    def copy(self, uri: str, iam_role: str) -> str:
        """Redshift's COPY of one Parquet object into the staging table (columns by position)."""
        if not uri.startswith("s3://") or "'" in uri or "'" in iam_role:
            raise ConfigError(f"cannot COPY from {uri!r} with role {iam_role!r}")
        return f"COPY {self.stage} FROM '{uri}' IAM_ROLE '{iam_role}' FORMAT AS PARQUET"

    def merge(self) -> list[str]:
        """Replace the staged keys' rows (resolved ones only), then drop the staging table."""
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
                f"WHERE {self.target}.{key} = {self.stage}.{key}",
                self.dialect,
            ),
            transpile(
                f"INSERT INTO {self.target} ({columns}) SELECT {columns} FROM ("
                f"SELECT {columns}, ROW_NUMBER() OVER (PARTITION BY {key} ORDER BY {order} DESC) "
                f"AS _rank FROM {self.stage}) AS ranked WHERE _rank = 1",
                self.dialect,
            ),
            transpile(f"DROP TABLE {self.stage}", self.dialect),
        ]

    def load(self, uri: str, iam_role: str) -> list[str]:
        """Every statement that merges one object and records it, for one transaction."""
        record = transpile(
            f"INSERT INTO {self.loads} (object_uri, table_name, loaded_at) "
            f"VALUES ('{uri}', '{_ident(self.table)}', CURRENT_TIMESTAMP)",
            self.dialect,
        )
        return [self.create_stage(), self.copy(uri, iam_role), *self.merge(), record]


def plans(
    entries: Sequence[Mapping[str, Any]], schema: str, dialect: str = "redshift"
) -> tuple[list[LoadPlan], list[str]]:
    """A plan per contract table with curated Parquet on S3, and what was skipped with why."""
    by_name = {str(e["dataset"]): e for e in entries}
    found: list[LoadPlan] = []
    skipped: list[str] = []
    for table in CONTRACT_TABLES:
        curated = by_name.get(f"curated/{table}")
        warehouse = by_name.get(f"warehouse/{table}")
        if curated is None or warehouse is None or table not in ENTITY_SCHEMAS:
            continue  # nothing ingested for it (marts are rebuilt, not loaded)
        if not str(curated["location"]).startswith("s3://"):
            skipped.append(f"{table}: curated files are not on S3 (set ENCORE_LAKE_BUCKET)")
            continue
        file_columns = _schema(curated["schema"])
        key = next(iter(ENTITY_SCHEMAS[table].model_fields))
        if key not in file_columns:
            skipped.append(f"{table}: the curated files lack the key {key}")
            continue
        found.append(
            LoadPlan(table, schema, key, _schema(warehouse["schema"]), file_columns, dialect)
        )
    return found, skipped


def _schema(value: Any) -> dict[str, str]:
    data = json.loads(value) if isinstance(value, str) else dict(value)
    return {str(k): str(v) for k, v in data.items()}


# -- executors ------------------------------------------------------------------------------


class Executor(Protocol):
    """Runs statements in order, in one transaction."""

    def run(self, statements: Sequence[str], *, label: str) -> None:
        """Run `statements`; raise WarehouseError naming `label` when one fails."""

    def query(self, sql: str, *, label: str) -> list[tuple[Any, ...]]:
        """The rows of one query."""


@runtime_checkable
class TableColumns(Protocol):
    """An executor that can list a table's columns (both below; test doubles need not)."""

    def table_columns(self, plan: LoadPlan) -> set[str]:
        """The column names `plan`'s table has in the database."""


class _ListsColumns:
    """`table_columns` through the executor's own `query`."""

    def query(self, sql: str, *, label: str) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def table_columns(self, plan: LoadPlan) -> set[str]:
        rows = self.query(plan.columns_query(), label=f"columns of {plan.target}")
        return {str(row[0]) for row in rows}


class DataApiExecutor(_ListsColumns):
    """The Redshift Data API: submit, then poll describe_statement until done or timed out."""

    def __init__(
        self,
        client: Any,
        *,
        database: str,
        workgroup: str | None = None,
        cluster_id: str | None = None,
        db_user: str | None = None,
        secret_arn: str | None = None,
        timeout_s: float = 300.0,
        poll_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not (workgroup or cluster_id):
            raise ConfigError("set ENCORE_REDSHIFT_WORKGROUP or ENCORE_REDSHIFT_CLUSTER_ID")
        self.client = client
        self.target: dict[str, str] = {"Database": database}
        if workgroup:
            self.target["WorkgroupName"] = workgroup
        else:
            self.target["ClusterIdentifier"] = str(cluster_id)
        if secret_arn:
            self.target["SecretArn"] = secret_arn
        elif db_user:
            self.target["DbUser"] = db_user
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self.clock = clock
        self.sleep = sleep

    def run(self, statements: Sequence[str], *, label: str) -> None:
        """One statement with execute_statement, several with batch_execute_statement."""
        with aws_call(f"submit Redshift statement {label!r}", statement=label):
            if len(statements) == 1:
                reply = self.client.execute_statement(
                    Sql=statements[0], StatementName=label[:500], **self.target
                )
            else:
                reply = self.client.batch_execute_statement(
                    Sqls=list(statements), StatementName=label[:500], **self.target
                )
        self.wait(str(reply["Id"]), label)

    def query(self, sql: str, *, label: str) -> list[tuple[Any, ...]]:
        """Run a query, wait for it, and page through its result."""
        with aws_call(f"submit Redshift query {label!r}", statement=label):
            reply = self.client.execute_statement(Sql=sql, StatementName=label[:500], **self.target)
        statement_id = str(reply["Id"])
        self.wait(statement_id, label)
        rows: list[tuple[Any, ...]] = []
        token: str | None = None
        with aws_call(f"read the result of Redshift query {label!r}", statement=label):
            while True:
                page = self.client.get_statement_result(
                    Id=statement_id, **({"NextToken": token} if token else {})
                )
                rows.extend(tuple(_field(f) for f in record) for record in page["Records"])
                token = page.get("NextToken")
                if not token:
                    return rows

    def wait(self, statement_id: str, label: str) -> dict[str, Any]:
        """Poll until the statement finishes; cancel it and raise when the timeout passes."""
        deadline = self.clock() + self.timeout_s
        while True:
            with aws_call(f"read the status of Redshift statement {label!r}", statement=label):
                described = dict(self.client.describe_statement(Id=statement_id))
            status = str(described.get("Status", "UNKNOWN"))
            if status == _DONE:
                return described
            if status in _FAILED:
                raise WarehouseError(
                    f"Redshift statement {label!r} {status.lower()}: {_failure(described)}",
                    statement=label,
                    statement_id=statement_id,
                    sql=described.get("QueryString"),
                )
            remaining = deadline - self.clock()
            if remaining <= 0:
                self._cancel(statement_id)
                raise WarehouseError(
                    f"Redshift statement {label!r} (id {statement_id}) did not finish within "
                    f"{self.timeout_s:g} s (last status {status}) and was cancelled; check the "
                    "workgroup or cluster, or raise ENCORE_REDSHIFT_TIMEOUT_S",
                    statement=label,
                    statement_id=statement_id,
                    status=status,
                )
            self.sleep(min(self.poll_s, remaining))

    def _cancel(self, statement_id: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.cancel_statement(Id=statement_id)
        except (BotoCoreError, ClientError) as exc:  # finished meanwhile, or already gone
            log.warning("could not cancel Redshift statement %s: %s", statement_id, exc)


def _field(field: Mapping[str, Any]) -> Any:
    """The value of a Data API result field ({"stringValue": "x"}, {"isNull": true}, ...)."""
    if field.get("isNull"):
        return None
    return next(iter(field.values()), None)


def _failure(described: Mapping[str, Any]) -> str:
    """The error of a failed statement; for a batch, the sub-statement that failed and its SQL."""
    for sub in described.get("SubStatements") or []:
        if isinstance(sub, Mapping) and sub.get("Status") in _FAILED:
            return f"{sub.get('Error', 'no error message')} in: {sub.get('QueryString', '?')}"
    return str(described.get("Error", "no error message"))


class DbApiExecutor(_ListsColumns):
    """Any DB-API connection (redshift_connector, psycopg): one transaction per `run`.

    `errors` is the driver's error base (e.g. `psycopg.Error`): those become WarehouseErrors.
    """

    def __init__(
        self, connection: Any, *, errors: tuple[type[Exception], ...] | type[Exception]
    ) -> None:
        self.connection = connection
        self.errors = errors

    def run(self, statements: Sequence[str], *, label: str) -> None:
        self._execute(statements, label=label, kind="statement")

    def query(self, sql: str, *, label: str) -> list[tuple[Any, ...]]:
        return self._execute([sql], label=label, kind="query", fetch=True)

    def _execute(
        self, statements: Sequence[str], *, label: str, kind: str, fetch: bool = False
    ) -> list[tuple[Any, ...]]:
        """Run `statements` in one transaction (rolled back on failure), rows of the last."""
        cursor = self.connection.cursor()
        current = ""
        try:
            for current in statements:
                cursor.execute(current)
            rows = [tuple(row) for row in cursor.fetchall()] if fetch else []
            self.connection.commit()
            return rows
        except self.errors as exc:
            self.connection.rollback()
            raise WarehouseError(
                f"Redshift {kind} {label!r} failed: {exc}", statement=label, sql=current
            ) from exc
        finally:
            cursor.close()


# -- the load -------------------------------------------------------------------------------


def add_missing_columns(executor: Executor, plan: LoadPlan, report: SyncReport) -> None:
    """Give a table created before a migration the columns it added (ALTER TABLE ADD COLUMN)."""
    if not isinstance(executor, TableColumns):
        log.warning("cannot check the columns of %s: the executor cannot list them", plan.target)
        return
    existing = executor.table_columns(plan)
    if not existing:  # nothing visible (e.g. no privilege on information_schema): cannot tell
        log.warning("no columns of %s visible in information_schema; not altering", plan.target)
        return
    for alter in plan.add_columns(existing):
        executor.run([alter], label=alter[:120])
        report.updated.append(f"{plan.target}: column {alter.split(' ADD COLUMN ', 1)[-1]} added")


def curated_objects(s3: Any, bucket: str, table: str) -> list[str]:
    """The s3:// URIs of a table's curated Parquet objects, in the order their runs wrote them.

    Upload time first, then the key (dt, then run id, which starts with the run's start time),
    for objects stored within the same second.
    """
    found: list[tuple[Any, str]] = []
    with aws_call(f"list curated objects of {table} in s3://{bucket}", table=table):
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=f"curated/{table}/"
        ):
            found.extend(
                (o["LastModified"], o["Key"])
                for o in page.get("Contents", [])
                if o["Key"].endswith(".parquet")
            )
    return [f"s3://{bucket}/{key}" for _, key in sorted(found)]


def load_warehouse(
    settings: Settings,
    *,
    executor: Executor | None = None,
    s3: Any = None,
    dialect: str = "redshift",
) -> SyncReport:
    """Create the warehouse tables in Redshift and merge the curated objects not merged yet.

    `dialect` is the SQL dialect of the executor's database (PostgreSQL in the tests).
    """
    require(settings, "lake_bucket", "redshift_iam_role")
    if not (settings.redshift_workgroup or settings.redshift_cluster_id):
        raise ConfigError("set ENCORE_REDSHIFT_WORKGROUP or ENCORE_REDSHIFT_CLUSTER_ID first")
    if not settings.warehouse_file.exists():
        raise ConfigError(f"no warehouse at {settings.warehouse_file}; ingest data first")
    with reading(settings) as con:
        entries = catalog(con)
    found, skipped = plans(entries, settings.redshift_schema, dialect)
    report = SyncReport("warehouse", skipped=skipped)
    if not found:
        report.skipped.append("no curated datasets on S3 in data_catalog yet")
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
    s3 = s3 or client("s3", settings)
    bucket, role = str(settings.lake_bucket), str(settings.redshift_iam_role)
    for plan in found:
        for ddl in plan.ddl():  # each idempotent: no transaction needed
            executor.run([ddl], label=ddl[:120])
        add_missing_columns(executor, plan, report)
        done = {row[0] for row in executor.query(plan.loaded(), label=f"loaded {plan.target}")}
        objects = curated_objects(s3, bucket, plan.table)
        for uri in objects:
            if uri in done:
                continue
            executor.run(plan.load(uri, role), label=f"merge {uri} into {plan.target}")
            report.updated.append(f"{plan.target}: merged {uri}")
        merged = sum(uri in done for uri in objects)
        if merged:
            report.skipped.append(f"{plan.target}: {merged} object(s) merged before")
    return report
