"""The guard's read path: check a query, run it locked down with a timeout, audit the outcome."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import duckdb

from core.errors import EncoreError, QueryRefusedError, WarehouseError
from core.settings import Settings
from core.warehouse import reading
from tools.context import ToolContext
from tools.query import audit
from tools.query.guard import Checked, Schema, check, withheld_note
from tools.query.policy import Policy, load_policy
from tools.query.router import EngineChoice, EngineName, RoutedResult, choose
from tools.results import QueryResult, Table

log = logging.getLogger(__name__)

_schema_cache: dict[tuple[str, int, int], Schema] = {}


class QueryTimeoutError(QueryRefusedError):
    """A query ran past the time limit and was stopped."""


def warehouse_schema(con: duckdb.DuckDBPyConnection, settings: Settings) -> Schema:
    """Tables and column types of the warehouse (cached while the file is unchanged)."""
    path = settings.warehouse_file
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _schema_cache:
        rows = con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position"
        ).fetchall()
        main: dict[str, dict[str, str]] = {}
        for table, column, dtype in rows:
            main.setdefault(table, {})[column] = dtype
        catalogs: dict[str, dict[str, str]] = {}
        for view in ("tables", "columns"):
            cursor = con.execute(f"SELECT * FROM information_schema.{view} LIMIT 0")
            catalogs[view] = {d[0]: "VARCHAR" for d in cursor.description}
        _schema_cache.clear()
        _schema_cache[key] = {"main": main, "information_schema": catalogs}
    return _schema_cache[key]


@dataclass
class Fetched:
    columns: list[str]
    rows: list[tuple[Any, ...]]


def execute_with_timeout(
    con: duckdb.DuckDBPyConnection, sql: str, timeout_s: float, fetch: int
) -> Fetched:
    """Run SQL, fetching at most `fetch` rows; a timer interrupts it after `timeout_s`."""
    timer = threading.Timer(timeout_s, con.interrupt)
    timer.daemon = True
    timer.start()
    try:
        cursor = con.execute(sql)
        columns = [d[0] for d in cursor.description or ()]
        rows = cursor.fetchmany(fetch)
    except duckdb.InterruptException as exc:
        raise QueryTimeoutError(
            f"the query ran longer than {timeout_s:g} s and was stopped; add filters, "
            "aggregate, or join on keys",
            sql=sql,
        ) from exc
    except duckdb.Error as exc:
        raise WarehouseError(f"the query failed: {exc}", sql=sql) from exc
    finally:
        timer.cancel()
        timer.join()  # a cancelled timer ends at once; joining it keeps threads from piling up
    return Fetched(columns, rows)


class Engine(Protocol):
    """Where a checked query runs: its tables' schema, and running the guard's SQL."""

    name: EngineName

    def schema(self) -> Schema:
        """The tables and columns the guard checks queries against."""

    def run(self, checked: Checked, timeout_s: float) -> Fetched:
        """Run the checked SQL, fetching at most `checked.fetch` rows, stopped after the limit."""


EngineOpener = Callable[[ToolContext], AbstractContextManager[Engine]]


class WarehouseEngine:
    """The warehouse: the locked-down read-only DuckDB connection."""

    name: EngineName = "warehouse"

    def __init__(self, con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
        self.con = con
        self.settings = settings

    def schema(self) -> Schema:
        return warehouse_schema(self.con, self.settings)

    def run(self, checked: Checked, timeout_s: float) -> Fetched:
        return execute_with_timeout(self.con, checked.sql, timeout_s, checked.fetch)


@contextmanager
def open_warehouse(ctx: ToolContext) -> Iterator[Engine]:
    with reading(ctx.settings) as con:
        yield WarehouseEngine(con, ctx.settings)


def guarded_query(
    ctx: ToolContext,
    sql: str,
    *,
    kind: str = "sql",
    max_rows: int | None = None,
    policy: Policy | None = None,
    aggregated: bool = False,
    engine: EngineOpener = open_warehouse,
) -> QueryResult:
    """Check `sql` for the caller's role, run it read-only with a timeout, audit, return rows.

    The same guard, limits and audit serve every engine; `engine` says where the query runs.
    """
    policy = policy or load_policy()
    started = time.perf_counter()
    checked: Checked | None = None
    try:
        role = policy.role(ctx.role)
        with engine(ctx) as runner:
            checked = check(sql, role, policy, runner.schema(),
                            max_rows=max_rows, aggregated=aggregated)  # fmt: skip
            fetched = runner.run(checked, ctx.settings.query_timeout_s)
    except EncoreError as exc:
        decision: audit.Decision = (
            "timeout"
            if isinstance(exc, QueryTimeoutError)
            else "refused"
            if isinstance(exc, QueryRefusedError)
            else "error"
        )
        audit.record(
            ctx, sql=sql, kind=kind, decision=decision, reason=exc.message,
            tables=checked.tables if checked else (),
            duration_ms=(time.perf_counter() - started) * 1000,
        )  # fmt: skip
        log.info("query %s for %s/%s: %s", decision, ctx.user, ctx.role, exc.message)
        raise
    truncated = len(fetched.rows) > checked.max_rows
    rows = fetched.rows[: checked.max_rows]
    audit.record(
        ctx, sql=sql, kind=kind, decision="allowed", tables=checked.tables,
        rows=len(rows), duration_ms=(time.perf_counter() - started) * 1000,
    )  # fmt: skip
    result = Table.from_rows(fetched.columns, rows)
    return QueryResult(
        columns=result.columns,
        rows=result.rows,
        sql=checked.sql,
        row_count=len(rows),
        truncated=truncated,
    )


def run_sql(
    ctx: ToolContext, sql: str, max_rows: int | None = None, engine: EngineChoice = "auto"
) -> RoutedResult:
    """Run one read-only SELECT, checked against the caller's role, on the engine holding its data.

    Warehouse tables: artists, venues, concerts, ticket_sales, fans, concert_results,
    concert_performance (the current, merged state). Lake relations: curated_<entity> (e.g.
    curated_artists, curated_ticket_sales: every load's records with its load day `dt`, for
    history) and raw_files (objects as received: source, dt, name, bytes, tier, content).
    `engine` auto picks the engine from the tables (one query reads one engine's tables); the
    result's `engine` and `reason` say which answered and why. The query must be a single SELECT
    (WITH and UNION are fine). The guard refuses anything else with a reason: writes, several
    statements, table functions, files, settings, system catalogs, columns the role may not
    read. Aggregate-only roles (partner) must aggregate, may not use list()/string_agg()/
    first()/any_value()/arg_max(), and get only groups of at least the policy's minimum size (10
    sales or fans): smaller groups are left out, and `reason` says so. Results are capped at the
    role's row limit (`truncated` says when); the SQL that ran is returned.
    """
    try:
        route = choose(sql, engine)
    except QueryRefusedError as exc:
        audit.record(ctx, sql=sql, decision="refused", reason=exc.message)
        raise
    policy = load_policy()
    if route.engine == "lake":
        from tools.query.lake_engine import lake_policy, open_lake_engine

        policy = lake_policy(policy)
        result = guarded_query(
            ctx, sql, kind="lake-sql", max_rows=max_rows, policy=policy, engine=open_lake_engine
        )
    else:
        result = guarded_query(ctx, sql, max_rows=max_rows, policy=policy)
    reason = route.reason
    if note := withheld_note(policy.role(ctx.role), result.sql):
        reason = f"{reason}; {note}"
    # built without validation: the rows were validated once already
    return RoutedResult.model_construct(**dict(result), engine=route.engine, reason=reason)
