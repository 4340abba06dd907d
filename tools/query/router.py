"""The query router (requirement 7.3): each query goes to the engine that holds its tables.

    warehouse  the contract tables (artists, venues, concerts, ...) and operations tables: the
               merged, current state, loaded into DuckDB (Redshift at scale)
    lake       curated_<entity> (every load's records by day and run: history) and raw_files
               (objects as received, hot and cold): files read by DuckDB (Athena at scale)

The decision reads only the SQL's table names (lake relations are named so no warehouse table
can be mistaken for one); a query naming both is refused, since one query runs on one engine.
The caller may also ask for an engine. The result says which engine answered and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import sqlglot
from pydantic import Field
from sqlglot import exp
from sqlglot.errors import SqlglotError

from core.errors import QueryRefusedError
from tools.query.guard import DIALECT
from tools.query.lake_names import RAW_FILES, is_lake_relation
from tools.results import QueryResult

EngineName = Literal["warehouse", "lake"]
EngineChoice = Literal["auto", "warehouse", "lake"]


class RoutedResult(QueryResult):
    """A query's answer with the engine that ran it and why that engine was chosen."""

    engine: EngineName = Field("warehouse", description="warehouse or lake: which engine answered")
    reason: str = Field("", description="why the query went to that engine")


@dataclass(frozen=True)
class Route:
    engine: EngineName
    reason: str


def _tables(sql: str) -> list[str] | None:
    """The table names a query reads (CTEs excluded), or None when it does not parse."""
    try:
        trees = [t for t in sqlglot.parse(sql, read=DIALECT) if t is not None]
    except SqlglotError:
        return None
    names: set[str] = set()
    for tree in trees:
        ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
        names.update(
            t.name.lower()
            for t in tree.find_all(exp.Table)
            if isinstance(t.this, exp.Identifier) and t.name.lower() not in ctes
        )
    return sorted(names)


def _why_lake(tables: list[str]) -> str:
    parts = []
    curated = [t for t in tables if t != RAW_FILES]
    if curated:
        parts.append(
            f"{', '.join(curated)}: every load's records by day and run, history the "
            "warehouse's merged tables do not keep"
        )
    if RAW_FILES in tables:
        parts.append("raw_files: objects as received, kept only in the lake")
    return "reads lake data (" + "; ".join(parts) + ")"


def choose(sql: str, requested: EngineChoice = "auto") -> Route:
    """The engine for `sql`: the one asked for, else the one holding every table it reads."""
    if requested != "auto":
        return Route(requested, f"the {requested} engine was asked for")
    tables = _tables(sql)
    if tables is None:
        return Route("warehouse", "the SQL does not parse; the warehouse guard says why")
    lake = [t for t in tables if is_lake_relation(t)]
    warehouse = [t for t in tables if not is_lake_relation(t)]
    if lake and warehouse:
        raise QueryRefusedError(
            f"{', '.join(lake)} {'is' if len(lake) == 1 else 'are'} in the lake and "
            f"{', '.join(warehouse)} in the warehouse; one query runs on one engine: query "
            "them separately (curated_<entity> holds the lake's copy of each warehouse entity)",
            lake=lake,
            warehouse=warehouse,
        )
    if lake:
        return Route("lake", _why_lake(lake))
    if warehouse:
        return Route("warehouse", f"reads warehouse tables ({', '.join(warehouse)})")
    return Route("warehouse", "reads no tables; the warehouse answers")
