"""Raw columns whose names are syntax somewhere (backticks, dots, quotes, spaces) reach the Glue
job's output unharmed: Spark's column references quote them (`pipelines.aws.spark.spark_column`)
and the Spark SQL names them as identifiers.

The SQL checks need no Spark; the reading and classifying test runs on the session's local Spark
(skipped when pyspark or Java is missing).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp

from pipelines.aws.spark import plan_transforms, spark_column, to_spark
from pipelines.aws.star_columns import read_tables

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

ODD = ["na`me", "`", "a.b", "x y", "it's", 'say "hi"', "naïve", "tab\there"]


def test_a_column_reference_quotes_backticks_by_doubling_them() -> None:
    assert spark_column("na`me") == "`na``me`"
    assert spark_column("`") == "````"
    assert spark_column("a.b") == "`a.b`"


def test_the_spark_sql_names_odd_columns_as_identifiers_and_means_what_duckdb_does() -> None:
    columns = ["fan_id", "city", *ODD, "_line"]
    plan = plan_transforms("fans", columns, "raw", source="files")
    views = {t: ["fan_id"] for t in read_tables(sqlglot.parse_one(plan.sql, read="duckdb"))}
    views["raw"] = columns
    views["entity_map"] = ["entity_type", "source", "source_key", "canonical_id"]
    spark_sql = to_spark(plan.sql, columns=views)

    parsed = sqlglot.parse_one(spark_sql, read="spark")  # one statement Spark's grammar reads
    names = {i.name for i in parsed.find_all(exp.Identifier)}
    assert set(ODD) <= names
    assert set(plan.sources.values()) == {"fan_id", "city", *ODD}

    # DuckDB runs the same plan on such columns: each raw value comes back under its _src_ name
    rows = [{**{c: f"v{i}" for i, c in enumerate(columns)}, "fan_id": "F1", "_line": 2}]
    con = duckdb.connect()
    con.register("raw", pa.Table.from_pylist(rows))
    for view, cols in views.items():
        if view != "raw":
            con.execute(f"CREATE TABLE {view} ({', '.join(f'{c} VARCHAR' for c in cols)})")
    result = con.execute(f"SELECT * FROM ({plan.sql})")
    got = dict(zip([d[0] for d in result.description or []], result.fetchone() or (), strict=True))
    for name, column in plan.sources.items():
        assert got[name] == rows[0][column]


def test_the_glue_job_reads_and_classifies_files_with_odd_column_names(
    spark: SparkSession, tmp_path: Path
) -> None:
    from pipelines.aws.glue_job import read_raw
    from pipelines.aws.spark import run_transforms

    names = ["fan_id", "city", "age_band", *ODD[:-1]]  # a tab in a CSV header is a tab
    header = ",".join('"' + c.replace('"', '""') + '"' for c in names)
    values = ",".join(f"v{i}" for i in range(len(ODD) - 1))
    path = tmp_path / "fans.csv"
    path.write_text(
        f"{header}\nF1,Austin,25-34,{values}\nF2,Reno,,{values}\nF3,Waco,teen,kept,{values[3:]}\n"
    )

    frame = read_raw(spark, f"file://{path}")  # failed on the backtick: unpaired in `na`me`
    assert frame.columns == [*names, "_line"]
    transformed = run_transforms(spark, frame, "fans")
    accepted = sorted((r["fan_id"], r["city"]) for r in transformed.accepted.collect())
    assert accepted == [("F1", "Austin"), ("F2", "Reno")]
    [quarantined] = transformed.quarantined.collect()
    record = json.loads(quarantined["record"])
    assert record["na`me"] == "kept" and record["a.b"] == "v2"  # names as the file had them
    assert record["`"] == "v1" and record['say "hi"'] == "v5"
    assert any(reason.startswith("age_band:") for reason in quarantined["reasons"])
