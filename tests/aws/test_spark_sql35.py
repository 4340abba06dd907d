"""The SQL the Glue job runs is Spark 3.5 SQL (Glue 5.0), not only Spark 4 SQL (the tests' Spark).

Spark 3.5's parser has no `* EXCEPT (...)`; the rules' DuckDB SQL drops columns with
`* EXCLUDE (...)`. Every entity's plan, with and without a source, is transpiled and searched for
star lists; and the expansion is checked on DuckDB itself: the expanded SQL gives the same
columns, in the same order, and the same rows as the rules' own SQL. No Spark needed.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa
import pytest
import sqlglot

from core.schemas import ENTITY_SCHEMAS
from pipelines.aws.spark import UnsupportedSqlError, plan_transforms, to_spark
from pipelines.aws.star_columns import expand_star_excludes, read_tables, spark4_only

REFERENCES = {
    "entity_map": ["entity_type", "source", "source_key", "canonical_id"],
    "artists": ["artist_id"],
    "venues": ["venue_id"],
    "concerts": ["concert_id"],
    "fans": ["fan_id"],
}
PLANS = [(entity, source) for entity in ENTITY_SCHEMAS for source in (None, "files")]


def _columns(entity: str, sql: str) -> dict[str, list[str]]:
    raw = [*ENTITY_SCHEMAS[entity].model_fields, "_line"]
    tables = read_tables(sqlglot.parse_one(sql, read="duckdb"))
    return {t: REFERENCES.get(t, raw) for t in tables}


@pytest.mark.parametrize(("entity", "source"), PLANS)
def test_no_spark4_only_syntax_reaches_the_jobs_sql(entity: str, source: str | None) -> None:
    plan = plan_transforms(entity, [*ENTITY_SCHEMAS[entity].model_fields, "_line"], "raw",
                           source=source)  # fmt: skip
    assert "EXCLUDE" in plan.sql or entity == "concert_listings"  # what there is to rewrite

    spark_sql = to_spark(plan.sql, columns=_columns(entity, plan.sql))

    assert spark4_only(spark_sql) == []
    tokens = [t.text.upper() for t in sqlglot.tokenize(spark_sql, read="spark")]
    assert "EXCEPT" not in tokens and "REPLACE" not in tokens


def test_the_check_finds_star_lists_and_columns_are_required() -> None:
    assert spark4_only("SELECT r.* EXCEPT (a), 1 AS b FROM t AS r")
    assert spark4_only("SELECT * FROM (SELECT * EXCEPT (a) FROM t)")
    assert spark4_only("SELECT a FROM t") == []
    plan = plan_transforms("artists", ["artist_id", "name", "_line"], "raw", source="files")
    with pytest.raises(UnsupportedSqlError, match="columns of the tables"):
        to_spark(plan.sql)  # without the views' columns, EXCLUDE cannot be spelled out


def _sample(entity: str) -> list[dict[str, Any]]:
    """Three rows of text: two share a key (the duplicate-key step ranks them)."""
    fields = list(ENTITY_SCHEMAS[entity].model_fields)
    return [{**dict.fromkeys(fields, "x"), fields[0]: key, "_line": line}
            for line, key in ((2, "K1"), (3, "K2"), (4, "K1"))]  # fmt: skip


@pytest.mark.parametrize(("entity", "source"), PLANS)
def test_the_expanded_sql_gives_duckdbs_columns_and_rows(entity: str, source: str | None) -> None:
    rows = _sample(entity)
    plan = plan_transforms(entity, list(rows[0]), "raw", source=source)
    tree = sqlglot.parse_one(plan.sql, read="duckdb")
    expanded = expand_star_excludes(tree, _columns(entity, plan.sql)).sql("duckdb")
    assert "EXCLUDE" not in expanded
    con = duckdb.connect()
    con.register("raw", pa.Table.from_pylist(rows))
    for table, columns in REFERENCES.items():
        con.execute(f"CREATE TABLE {table} ({', '.join(f'{c} VARCHAR' for c in columns)})")
    con.execute("INSERT INTO entity_map VALUES ('artist', 'files', 'K1', 'A1')")

    def run(sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        result = con.execute(f"SELECT * FROM ({sql}) ORDER BY _line")
        return [d[0] for d in result.description or []], result.fetchall()

    assert run(expanded) == run(plan.sql)
