"""The lake engine (requirement 7.3): guarded SQL over the lake's files, beside the warehouse.

Relations it offers (names no warehouse table has, so the router can tell them apart):
    curated_<entity>  every curated Parquet file of the entity: one row per accepted record of
                      each load, with `dt` (the load day): history the warehouse, which keeps
                      the merged present, does not
    raw_files         every raw object as received (API payloads, files), hot and cold tier:
                      source, dt, name, bytes, tier, content (text; NULL when not UTF-8)

Locally the files are read by pyarrow datasets that list exactly the lake's files, handed to an
in-memory DuckDB opened with external access off and its configuration locked: DuckDB itself
cannot open any file, so even SQL that got past the guard cannot read `/etc/passwd`, a path
beside the lake, or write into it. (DuckDB's `allowed_directories` would admit reads of the lake
folder, but also `COPY ... TO` into it.) On S3 the same SQL runs on Athena (athena.py). Every
partition a query reads is logged for tiering (pipelines/lake/access.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Final

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from sqlglot import exp

from core.settings import Settings
from core.warehouse import READER_LOCKDOWN
from pipelines.lake.access import Partition, record_reads
from pipelines.lake.tiering import COLD
from tools.context import ToolContext
from tools.query.guard import DIALECT, Checked, Schema
from tools.query.lake_names import CURATED_PREFIX, RAW_FILES
from tools.query.policy import Policy
from tools.query.router import EngineName
from tools.query.runner import Engine, Fetched, execute_with_timeout

if TYPE_CHECKING:
    from tools.query.athena import AthenaEngine

log = logging.getLogger(__name__)

_ENTITY = re.compile(r"^[a-z][a-z0-9_]*$")
_DAY = re.compile(r"^dt=(\d{4}-\d{2}-\d{2})$")
_HOT_RAW = pa.schema(
    [("source", pa.string()), ("dt", pa.date32()), ("name", pa.string()),
     ("bytes", pa.int64()), ("content", pa.string())]
)  # fmt: skip
_RAW_FILES_SQL: Final = {
    "hot": "SELECT source, dt, name, bytes, 'hot' AS tier, content FROM _raw_hot",
    "cold": "SELECT source, dt, name, bytes, 'cold' AS tier, try(decode(content)) AS content "
    "FROM _raw_cold",
}


@dataclass(frozen=True)
class LakeRelation:
    """One relation of the lake engine and how its rows map to catalog partitions."""

    name: str
    partition_columns: tuple[str, ...]

    def partition(self, values: tuple[object, ...]) -> Partition:
        """The catalog (dataset, partition) of one row of its partition columns."""
        if self.name == RAW_FILES:
            source, day = values
            return f"raw/{source}", f"dt={day}"
        return f"curated/{self.name.removeprefix(CURATED_PREFIX)}", f"dt={values[0]}"


_LOCAL = pafs.LocalFileSystem()


@lru_cache(maxsize=65_536)
def _file_schema(path: Path) -> pa.Schema:
    """A Parquet file's schema; lake files are written once under a new name, never changed."""
    return pq.read_schema(path)


class LakeFiles:
    """The lake folder's files as Arrow sources, one per relation (built from a listing)."""

    def __init__(self, lake: Path) -> None:
        self.lake = lake
        self.curated = {
            f"{CURATED_PREFIX}{folder.name}": files
            for folder in sorted((lake / "curated").glob("*"))
            if _ENTITY.match(folder.name) and (files := sorted(folder.glob("dt=*/*.parquet")))
        }
        self.hot_raw = sorted(
            p for p in (lake / "raw").glob("source=*/dt=*/*")
            # dotfiles are objects still being written
            if p.is_file() and not p.name.startswith(".") and _DAY.match(p.parent.name)
        )  # fmt: skip
        self.cold_raw = sorted((lake / COLD / "raw").glob("source=*/dt=*/*.parquet"))

    def relations(self) -> list[LakeRelation]:
        found = [LakeRelation(name, ("dt",)) for name in self.curated]
        if self.hot_raw or self.cold_raw:
            found.append(LakeRelation(RAW_FILES, ("source", "dt")))
        return found

    def partitions(self, relation: LakeRelation) -> set[Partition]:
        """Every catalog partition behind a relation, from the file listing."""
        if relation.name != RAW_FILES:
            files = self.curated.get(relation.name, [])
            return {relation.partition((f.parent.name.removeprefix("dt="),)) for f in files}
        return {
            relation.partition((f.parent.parent.name.split("=", 1)[1], f.parent.name[3:]))
            for f in self.hot_raw + self.cold_raw
        }

    def curated_dataset(self, name: str) -> ds.Dataset:
        files = self.curated[name]
        # loads may add columns over time: one schema for all files, missing values null
        schema = pa.unify_schemas([_file_schema(f) for f in files])
        return ds.dataset(
            [str(f) for f in files], schema=schema.append(pa.field("dt", pa.date32())),
            format="parquet", partition_base_dir=str(files[0].parent.parent),
            partitioning=ds.partitioning(pa.schema([("dt", pa.date32())]), flavor="hive"),
            filesystem=_LOCAL,
        )  # fmt: skip

    def hot_raw_table(self, content: set[Partition] | None = None) -> pa.Table:
        """Hot raw objects, with the content of those in the `content` partitions only (the
        partitions a query reads): files are read only when a query asks for their text."""
        rows: dict[str, list[object]] = {n: [] for n in _HOT_RAW.names}
        for path in self.hot_raw:
            day = _DAY.match(path.parent.name)
            text = None
            source = path.parent.parent.name.split("=", 1)[1]
            if content and (f"raw/{source}", path.parent.name) in content:
                try:
                    text = path.read_bytes().decode()
                except UnicodeDecodeError:
                    text = None
            values = (
                source,
                day[1] if day else None,
                path.name,
                path.stat().st_size,
                text,
            )
            for column, value in zip(_HOT_RAW.names, values, strict=True):
                rows[column].append(value)
        return pa.table(
            {**rows, "dt": pa.array(rows["dt"], pa.string()).cast(pa.date32())}, schema=_HOT_RAW
        )

    def cold_raw_dataset(self) -> ds.Dataset:
        part = pa.schema([("source", pa.string()), ("dt", pa.date32())])
        return ds.dataset(
            [str(f) for f in self.cold_raw], format="parquet", filesystem=_LOCAL,
            partition_base_dir=str(self.lake / COLD / "raw"),
            partitioning=ds.partitioning(part, flavor="hive"),
        )  # fmt: skip


def lake_relations(lake: Path) -> list[LakeRelation]:
    """The relations the lake folder holds now (a relation with no files is left out)."""
    return LakeFiles(lake).relations()


def connect_lake(settings: Settings, files: LakeFiles) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that sees the lake's relations and cannot open any file itself."""
    con = duckdb.connect(
        ":memory:",
        config={
            **READER_LOCKDOWN,  # the warehouse reader's lock-down, the same settings
            "memory_limit": settings.query_memory_limit,
            "threads": settings.query_threads,
        },
    )
    con.execute("SET lock_configuration = true")
    for name in files.curated:
        con.register(f"_{name}", files.curated_dataset(name))
        con.execute(f'CREATE VIEW "{name}" AS SELECT * FROM "_{name}"')
    parts = []
    if files.hot_raw:
        con.register("_raw_hot", files.hot_raw_table())
        parts.append(_RAW_FILES_SQL["hot"])
    if files.cold_raw:
        con.register("_raw_cold", files.cold_raw_dataset())
        parts.append(_RAW_FILES_SQL["cold"])
    if parts:
        con.execute(f"CREATE VIEW {RAW_FILES} AS {' UNION ALL '.join(parts)}")
    return con


def lake_policy(policy: Policy) -> Policy:
    """The policy as the lake engine applies it: `curated_<t>` is granted as table `<t>` is.

    A curated dataset holds the same records as its warehouse table, so a role reads it as it
    reads the table (columns, masks, row filters), plus the partition column `dt`; this
    is also how Lake Formation grants the Glue table of the dataset at scale. `raw_files` holds
    objects as received, personal data included: only roles granted every table read it.
    """
    roles = {}
    for name, role in policy.roles.items():
        tables = None
        if role.tables is not None:
            tables = {
                f"{CURATED_PREFIX}{table}": replace(
                    grant,
                    columns=None if grant.columns is None else grant.columns | {"dt"},
                )
                for table, grant in role.tables.items()
            }
        roles[name] = replace(role, tables=tables, system_catalogs=frozenset())
    return replace(policy, roles=roles)


def _schema(con: duckdb.DuckDBPyConnection, relations: set[str]) -> Schema:
    """The relations' columns (the Arrow sources behind them are not offered)."""
    main: dict[str, dict[str, str]] = {}
    rows = con.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position"
    ).fetchall()
    for table, column, dtype in rows:
        if table in relations:
            main.setdefault(table, {})[column] = dtype
    return {"main": main}


def _partition_filter(table: exp.Table, columns: tuple[str, ...]) -> list[exp.Expr]:
    """The WHERE conjuncts of the table's SELECT that test only its partition columns."""
    select = table.parent_select
    where = select.args.get("where") if select is not None else None
    if where is None:
        return []
    alias = table.alias_or_name.lower()
    kept = []
    for conjunct in where.this.flatten() if isinstance(where.this, exp.And) else [where.this]:
        refs = list(conjunct.find_all(exp.Column))
        if (
            refs
            and all(c.table.lower() == alias and c.name.lower() in columns for c in refs)
            and not any(isinstance(n, exp.Select) for n in conjunct.walk())
        ):
            kept.append(conjunct.copy())
    return kept


class LocalLakeEngine:
    """The lake engine on the local folder: DuckDB on a connection locked to the lake."""

    name: EngineName = "lake"

    def __init__(self, ctx: ToolContext) -> None:
        self.ctx = ctx
        self.files = LakeFiles(ctx.settings.lake_dir)
        self.relations = {r.name: r for r in self.files.relations()}
        self.con = connect_lake(ctx.settings, self.files)

    def schema(self) -> Schema:
        return _schema(self.con, set(self.relations))

    def run(self, checked: Checked, timeout_s: float) -> Fetched:
        read = self._partitions_read(checked, timeout_s)
        if self.files.hot_raw and any(
            c.name.lower() == "content" for c in checked.expression.find_all(exp.Column)
        ):
            self.con.register("_raw_hot", self.files.hot_raw_table(read))
        fetched = execute_with_timeout(self.con, checked.sql, timeout_s, checked.fetch)
        record_reads(self.ctx.settings, self.ctx.user, read)
        return fetched

    def _partitions_read(self, checked: Checked, timeout_s: float) -> set[Partition]:
        """The partitions the query read: its partition predicates, evaluated on their own."""
        read: set[Partition] = set()
        for table in checked.expression.find_all(exp.Table):
            relation = self.relations.get(table.name.lower())
            if relation is None:
                continue
            conjuncts = _partition_filter(table, relation.partition_columns)
            if not conjuncts:  # every partition: known from the listing, no scan needed
                read.update(self.files.partitions(relation))
                continue
            alias = table.alias_or_name
            query = exp.select(*(exp.column(c, table=alias) for c in relation.partition_columns))
            query = query.from_(exp.table_(relation.name, alias=alias)).distinct()
            for conjunct in conjuncts:
                query = query.where(conjunct)
            fetched = execute_with_timeout(self.con, query.sql(DIALECT), timeout_s, 1_000_000)
            read.update(relation.partition(row) for row in fetched.rows)
        return read

    def close(self) -> None:
        self.con.close()


@contextmanager
def open_lake_engine(ctx: ToolContext) -> Iterator[Engine]:
    """The lake engine the settings select (Athena when the lake is on S3)."""
    engine: LocalLakeEngine | AthenaEngine
    if ctx.settings.lake_bucket:
        from tools.query.athena import AthenaEngine

        engine = AthenaEngine(ctx)
    else:
        engine = LocalLakeEngine(ctx)
    try:
        yield engine
    finally:
        engine.close()
