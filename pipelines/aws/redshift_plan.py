"""The SQL of a Redshift load, per warehouse table (`LoadPlan`): DuckDB SQL transpiled by sqlglot
to the executor's dialect ("redshift"; "postgres" in the tests). The sync driver
(`pipelines.aws.redshift`) decides which of these statements run and when.

    CREATE SCHEMA / CREATE TABLE IF NOT EXISTS   DDL of the DuckDB schema, one statement at a time
                                                 (each idempotent); also encore_loads (the Glue
                                                 objects merged) and encore_sync_state (each
                                                 bucket's digest)
    ALTER TABLE ... ADD COLUMN                   columns a migration added since the table was
                                                 created (information_schema says which), and
                                                 `_origin`
    replacing the changed buckets, one transaction (`LoadPlan.replace_buckets`):
    CREATE TEMPORARY TABLE stage_<t>, buckets_<t>   the changed rows; the buckets and digests
    COPY ... FROM 's3://...' FORMAT AS PARQUET
    DELETE FROM <t> WHERE <bucket> IN (replaced)    the warehouse's rows of the replaced buckets
    DELETE FROM <t> USING stage_<t> ...             Glue rows of keys the warehouse now holds
    INSERT INTO <t> SELECT ..., 'warehouse'
    DELETE + INSERT encore_sync_state               the digests the rows now match
    merging one Glue object, one transaction (`LoadPlan.load`):
    CREATE TEMPORARY TABLE stage_<t>; COPY           the curated file's columns, in file order
    DELETE FROM <t> USING stage_<t> ...              Glue's earlier rows of the staged keys
    INSERT INTO <t> SELECT ... WHERE _rank = 1       the file's last line per key winning, keys
                                                     the warehouse holds left out
    INSERT INTO encore_loads VALUES (<object>)       in the same transaction: merged exactly once
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import sqlglot
from sqlglot import exp

from core.errors import ConfigError
from core.schemas import ENTITY_SCHEMAS
from core.warehouse import CONTRACT_TABLES
from pipelines.aws.buckets import bucket_sql

if TYPE_CHECKING:
    import duckdb

_IDENT: Final = re.compile(r"^[a-z_][a-z0-9_]*$")
LOADS_TABLE: Final = "encore_loads"
STATE_TABLE: Final = "encore_sync_state"
"""Each table's key buckets and the digests Redshift's rows of them match (one per schema)."""
ORIGIN_COLUMN: Final = "_origin"
"""Where a Redshift row came from: 'warehouse' (the sync's buckets) or 'glue' (a Glue object)."""
ORDER_COLUMN: Final = "_line"
"""The curated files' line number: among rows sharing a key, the last line wins."""
RESOLVED_COLUMN: Final = "_resolved"
"""Set by the Glue job: false on a record whose source key entity_map does not link yet. Its
ids are the source's, not canonical, so it waits for the resolver instead of being merged."""


def identifier(name: str) -> str:
    """`name` when it is a plain lower-case SQL identifier (nothing to quote or escape)."""
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
        return f"{identifier(self.schema)}.{identifier(self.table)}"

    @property
    def stage(self) -> str:
        return f"stage_{identifier(self.table)}"

    @property
    def buckets(self) -> str:
        """The temporary table of the buckets a sync replaces, and their new digests."""
        return f"buckets_{identifier(self.table)}"

    @property
    def loads(self) -> str:
        """The table recording which objects were merged (one per schema)."""
        return f"{identifier(self.schema)}.{LOADS_TABLE}"

    @property
    def state(self) -> str:
        """The table of the digests each table's buckets were last synced with (one per schema)."""
        return f"{identifier(self.schema)}.{STATE_TABLE}"

    @property
    def merged_columns(self) -> list[str]:
        """Target columns the file carries (others stay NULL on insert)."""
        return [c for c in self.target_columns if c in self.file_columns]

    def ddl(self) -> list[str]:
        """Create the schema and the tables when missing (Redshift has no CHECK constraints)."""
        columns = ", ".join(f"{identifier(c)} {t}" for c, t in self.target_columns.items())
        return [
            transpile(f"CREATE SCHEMA IF NOT EXISTS {identifier(self.schema)}", self.dialect),
            transpile(
                f"CREATE TABLE IF NOT EXISTS {self.target} ({columns}, "
                f"PRIMARY KEY ({identifier(self.key)}))",
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
            f"WHERE table_schema = '{identifier(self.schema)}' "
            f"AND table_name = '{identifier(self.table)}'",
            self.dialect,
        )

    def add_columns(self, existing: set[str]) -> list[str]:
        """ALTER TABLE ... ADD COLUMN for each warehouse column the database table lacks.

        A table created before a migration added columns (0003: concerts.currency, starts_at,
        venues.timezone) would otherwise make every merge naming them fail.
        """
        present = {c.lower() for c in existing}
        return [
            transpile(f"ALTER TABLE {self.target} ADD COLUMN {identifier(c)} {t}", self.dialect)
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
            f"SELECT object_uri FROM {self.loads} WHERE table_name = '{identifier(self.table)}'",
            self.dialect,
        )

    def synced(self) -> str:
        """The query of the buckets, digests and row counts Redshift's rows match."""
        return transpile(
            f"SELECT bucket, digest, row_count FROM {self.state} "
            f"WHERE table_name = '{identifier(self.table)}'",
            self.dialect,
        )

    def create_stage(self) -> str:
        columns = ", ".join(f"{identifier(c)} {t}" for c, t in self.file_columns.items())
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
        key, table = identifier(self.key), identifier(self.table)
        columns = ", ".join(identifier(c) for c in self.merged_columns)
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
        key = identifier(self.key)
        columns = ", ".join(identifier(c) for c in self.merged_columns)
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
        table = identifier(self.table)
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
