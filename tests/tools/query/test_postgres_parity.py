"""7.3: semantic queries give the same answers on DuckDB and on a real PostgreSQL server."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

import duckdb
import pytest

from core.settings import Settings
from tools.query.semantic import compile_semantic
from tools.query.semantic_model import Filter, OrderBy, SemanticQuery, TimeRange

pytestmark = pytest.mark.slow

TABLES = ("artists", "venues", "fans", "concerts", "ticket_sales", "concert_performance")

QUERIES = [
    SemanticQuery(measures=["tickets_sold", "gross_revenue", "concerts"], dimensions=["genre"]),
    SemanticQuery(measures=["sell_through", "capacity", "sell_outs"], dimensions=["venue_type"]),
    SemanticQuery(measures=["avg_ticket_price"], dimensions=["state"], limit=20),
    SemanticQuery(measures=["tickets_sold", "fans"], dimensions=["channel", "price_tier"]),
    SemanticQuery(measures=["fans", "transactions"], dimensions=["age_band"]),
    SemanticQuery(measures=["concerts"], dimensions=["year", "quarter"]),
    SemanticQuery(measures=["gross_revenue"], dimensions=["month"], limit=500),
    SemanticQuery(measures=["concerts", "tickets_sold"], dimensions=["weekday"]),
    SemanticQuery(
        measures=["concerts"],
        dimensions=["week"],
        limit=30,
        order_by=[OrderBy(field="week", descending=False)],
    ),
    SemanticQuery(measures=["capacity", "gross_revenue", "fans"], dimensions=["genre", "year"]),
    SemanticQuery(measures=["artists", "venues"], dimensions=["status"]),
    SemanticQuery(
        measures=["tickets_sold"],
        dimensions=["city"],
        filters=[Filter(field="venue_type", op="in", value=["Arena", "stadium"])],
        time_range=TimeRange(start="2024-01-01", end="2026-06-30"),
    ),
    SemanticQuery(
        measures=["concerts", "gross_revenue"],
        dimensions=["country"],
        filters=[
            Filter(field="concerts", op=">", value=5),
            Filter(field="city", op="contains", value="an"),
        ],
    ),
    SemanticQuery(measures=["gross_revenue", "fans", "sell_through"]),
]

_PG_TYPES = {"VARCHAR": "TEXT", "DOUBLE": "DOUBLE PRECISION", "TINYINT": "SMALLINT",
             "UTINYINT": "SMALLINT", "HUGEINT": "NUMERIC"}  # fmt: skip


def _pg_type(duck: str) -> str:
    if duck.endswith("[]") or duck.startswith("ENUM(") or duck in ("JSON",):
        return "TEXT"
    return _PG_TYPES.get(duck, duck)


@pytest.fixture(scope="module")
def loaded_pg(pg_dsn: str, small_warehouse: Settings) -> str:
    """The small warehouse's contract tables copied into PostgreSQL."""
    import psycopg

    duck = duckdb.connect(str(small_warehouse.warehouse_file), read_only=True)
    try:
        with psycopg.connect(pg_dsn, autocommit=True) as pg:
            for table in TABLES:
                columns = duck.execute(f"DESCRIBE {table}").fetchall()
                ddl = ", ".join(f"{c[0]} {_pg_type(c[1])}" for c in columns)
                pg.execute(f"DROP TABLE IF EXISTS {table}")
                pg.execute(f"CREATE TABLE {table} ({ddl})")
                names = ", ".join(c[0] for c in columns)
                rows = duck.execute(f"SELECT {names} FROM {table}").fetchall()
                with pg.cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                pg.execute(f"ANALYZE {table}")
    finally:
        duck.close()
    return pg_dsn


def _normal(value: Any) -> Any:
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else value
    if isinstance(value, dt.datetime):
        return value.date() if value.time() == dt.time(0) else value
    return value


def _rows(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [tuple(_normal(v) for v in row) for row in rows]


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: "+".join(q.measures + q.dimensions))
def test_same_answers_on_duckdb_and_postgres(
    query: SemanticQuery, loaded_pg: str, small_warehouse: Settings
) -> None:
    import psycopg

    duck = duckdb.connect(str(small_warehouse.warehouse_file), read_only=True)
    try:
        expected = _rows(duck.execute(compile_semantic(query, "duckdb")).fetchall())
    finally:
        duck.close()
    with psycopg.connect(loaded_pg) as pg:
        got = _rows(pg.execute(compile_semantic(query, "postgres")).fetchall())  # type: ignore[arg-type]
    assert expected, "the query should return rows on the small warehouse"
    assert got == expected


def test_enough_parity_queries() -> None:
    assert len(QUERIES) >= 10
