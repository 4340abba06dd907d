"""Foreign keys, known links and zoned times on Spark: the same outcome as DuckDB.

(a) The transforms with a source, on both engines over the same reference tables: the same
    orphan_fk reasons, canonical ids and `_resolved` marks, row by row.
(b) The Glue job on a file:// lake with a published entity_map: parents run first, a sale for an
    unknown concert is quarantined, known links give canonical ids, the rest stay unresolved.
(c) Times with short offsets and zone names: the same UTC instants and reasons on both engines.

Tiny inputs on the session's local Spark (`spark` in conftest.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.aws.spark import plan_transforms, register_references, run_transforms

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytestmark = pytest.mark.slow


# entity_map as published: links, then the ids the warehouse holds (no source)
LINKS = [
    ("concert", "files", "EV-1", "C1"),
    ("concert", "other", "EV-2", "C2"),  # another source's link: not this source's
    ("concert", None, None, "C1"),
    ("concert", None, None, "C2"),
    ("fan", None, None, "F1"),
]
CURATED_CONCERTS = ["EV-7"]  # curated earlier from this source, not resolved yet
SALES = [  # sale_id, concert_id, fan_id
    ("S1", "EV-1", "F1"),  # linked: becomes C1
    ("S2", "C2", ""),  # a canonical id
    ("S3", "EV-7", ""),  # a curated, unresolved concert: accepted, unresolved
    ("S4", "EV-2", ""),  # linked for another source only: an orphan here
    ("S5", "C1", "F9"),  # an unknown fan
    ("S6", "NOPE", ""),  # orphan; the next row has the same key and wins it
    ("S6", "C1", ""),
]


def _sales_rows() -> list[dict[str, Any]]:
    return [
        {"sale_id": s, "concert_id": c, "fan_id": f, "sold_at": "2026-01-02 10:00:00",
         "channel": "web", "price_tier": "general", "quantity": "1", "unit_price": "5",
         "amount": "5", "_line": i + 2}
        for i, (s, c, f) in enumerate(SALES)
    ]  # fmt: skip


def _duckdb_checked(rows: list[dict[str, Any]], entity: str) -> list[dict[str, Any]]:
    """The plan's DuckDB SQL over reference tables holding what the Spark views hold."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        "CREATE TABLE entity_map (entity_type VARCHAR, source VARCHAR, source_key VARCHAR, "
        "canonical_id VARCHAR)"
    )
    con.executemany("INSERT INTO entity_map VALUES (?, ?, ?, ?)", LINKS)
    con.execute(
        "CREATE TABLE concerts AS SELECT DISTINCT canonical_id AS concert_id FROM entity_map "
        f"WHERE entity_type = 'concert' UNION SELECT unnest({CURATED_CONCERTS})"
    )
    con.execute("CREATE TABLE fans AS SELECT 'F1' AS fan_id")
    con.register("raw", pa.Table.from_pylist(rows))
    plan = plan_transforms(entity, list(rows[0]), "raw", source="files")
    result = con.execute(f"SELECT * FROM ({plan.sql}) ORDER BY _line")
    names = [d[0] for d in result.description or []]
    keep = [*plan.fields, "_line", "_reasons", *plan.curated]
    return [{k: v for k, v in zip(names, r, strict=True) if k in keep} for r in result.fetchall()]


def _spark_checked(
    spark: SparkSession, rows: list[dict[str, Any]], entity: str
) -> list[dict[str, Any]]:
    from pyspark.sql.types import StringType, StructField, StructType

    names = ("entity_type", "source", "source_key", "canonical_id")
    links = spark.createDataFrame(LINKS, StructType([StructField(n, StringType()) for n in names]))
    curated = spark.createDataFrame([(c,) for c in CURATED_CONCERTS], "id string")
    register_references(spark, links, {"concerts": curated,
                                       "fans": spark.createDataFrame([], "id string")})  # fmt: skip
    raw = spark.createDataFrame(rows)
    result = run_transforms(spark, raw, entity, source="files")
    keep = [*result.fields, "_line", "_reasons", "_source", "_source_key", "_resolved"]
    checked = [{k: v for k, v in r.asDict().items() if k in keep} for r in result.checked.collect()]
    return sorted(checked, key=lambda r: r["_line"])


def test_foreign_keys_and_links_on_spark_match_the_ingest_sql(spark: SparkSession) -> None:
    rows = _sales_rows()
    expected = _duckdb_checked(rows, "ticket_sales")
    got = _spark_checked(spark, rows, "ticket_sales")
    assert got == expected

    outcome = [(r["concert_id"], r["_resolved"], r["_reasons"]) for r in got]
    orphan = "concert_id: orphan_fk (no concerts with this id)"
    assert outcome == [
        ("C1", True, []),
        ("C2", True, []),
        ("EV-7", False, []),
        ("EV-2", False, [orphan]),  # an orphan keeps the id it came with
        ("C1", True, ["fan_id: orphan_fk (no fans with this id)"]),
        ("NOPE", False, [orphan, "sale_id: duplicate_key (also on line 8)"]),
        ("C1", True, []),  # the valid row of S6 wins its key
    ]
    assert {r["_source"] for r in got} == {"files"}


# -- the Glue job on a file:// lake -------------------------------------------------------------

DAY = "2026-11-27"
CONCERTS_CSV = """concert_id,artist_id,venue_id,event_date,status
EV-1,A1,V1,2026-05-01,scheduled
EV-2,A1,V1,2026-06-01,scheduled
EV-3,A9,V1,2026-07-01,scheduled
"""
SALES_CSV = """sale_id,concert_id,sold_at,channel,price_tier,quantity,unit_price,amount
S1,EV-1,2026-01-02T10:00+02,web,general,1,5,5
S2,EV-2,2026-01-02 10:00:00 Europe/Paris,web,general,2,5,10
S3,EV-3,2026-01-02 10:00:00,web,general,1,5,5
S4,NOPE,2026-01-02 10:00:00,web,general,1,5,5
"""


def _rows(folder: Path) -> list[dict[str, Any]]:
    return [row for path in sorted(folder.glob("*.parquet"))
            for row in pq.read_table(path).to_pylist()]  # fmt: skip


def test_glue_job_checks_foreign_keys_and_applies_known_links(
    spark: SparkSession, tmp_path: Path
) -> None:
    from pipelines.aws.glue_job import main

    lake = tmp_path / "lake"
    raw = lake / "raw" / "source=files" / f"dt={DAY}"
    raw.mkdir(parents=True)
    (raw / "a-sales.csv").write_text(SALES_CSV)  # listed first, run after its parents
    (raw / "b-concerts.csv").write_text(CONCERTS_CSV)
    published = lake / "curated" / "entity_map"
    published.mkdir(parents=True)
    links = [("concert", "files", "EV-1", "C1"), ("artist", None, None, "A1"),
             ("venue", None, None, "V1"), ("concert", None, None, "C1")]  # fmt: skip
    names = ["entity_type", "source", "source_key", "canonical_id"]
    pq.write_table(pa.Table.from_pylist([dict(zip(names, r, strict=True)) for r in links]),
                   published / "entity_map.parquet")  # fmt: skip
    argv = ["--lake", f"file://{lake}", "--source", "files", "--dt", DAY,
            "--JOB_RUN_ID", "jr_fk", "--max_quarantine_rate", "0.9"]  # fmt: skip

    assert main(argv, spark=spark) == 0

    curated = lake / "curated"
    concerts = _rows(curated / "concerts" / f"dt={DAY}")
    assert [(c["concert_id"], c["_source_key"], c["_resolved"]) for c in concerts] == [
        ("C1", "EV-1", True),  # linked: the canonical id
        ("EV-2", "EV-2", False),  # new to the warehouse: left to the local resolver
    ]
    sales = sorted(_rows(curated / "ticket_sales" / f"dt={DAY}"), key=lambda r: r["sale_id"])
    assert [(s["sale_id"], s["concert_id"], s["_resolved"], str(s["sold_at"])) for s in sales] == [
        ("S1", "C1", True, "2026-01-02 08:00:00"),  # the link applies to references too
        ("S2", "EV-2", False, "2026-01-02 09:00:00"),  # the batch's own (unresolved) concert
    ]
    quarantine = {(r["entity"], r["line_number"]): r["reasons"]
                  for r in _rows(curated / "quarantine" / f"dt={DAY}")}  # fmt: skip
    assert quarantine == {
        ("concerts", 4): ["artist_id: orphan_fk (no artists with this id)"],
        ("ticket_sales", 4): ["concert_id: orphan_fk (no concerts with this id)"],  # EV-3
        ("ticket_sales", 5): ["concert_id: orphan_fk (no concerts with this id)"],
    }
    manifest = json.loads((lake / "_glue" / "runs" / "jr_fk.json").read_text())
    assert sorted(
        (f["entity"], f["rows"], f["accepted"], f["quarantined"]) for f in manifest["files"]
    ) == [
        ("concerts", 3, 2, 1),
        ("ticket_sales", 4, 2, 2),
    ]
    [sales_file] = [f for f in manifest["files"] if f["entity"] == "ticket_sales"]
    assert sales_file["datasets"]["ticket_sales"]["_resolved"] == "BOOLEAN"


# -- zoned times ---------------------------------------------------------------------------------

ZONED = ["2026-03-01T20:00+02", "2026-03-01T20:00Z", "2026-03-01 20:00 Europe/Paris",
         "2026-07-01 20:00:00 CET", "2026-03-01 20:00:00 Etc/GMT+5", "2026-03-01 20:00:00 UTC",
         "2026-03-01T20:00:00.25-05:30", "2026-03-01 20:00:00 Mars/Olympus",
         "2026-03-01 20:00:00 +02", "2026-03-01 20:00:00 utc", "2026-03-01 20:00:00 Z",
         "2026-03-01 20:00:00Europe/Paris", "2026-03-01 20:00:00 CEST", "2026-3-1 20:00 CET",
         "2026-03-01T20:00:00.123456789Z", "2026-03-01 20:00:00", "2026-03-01 20:00",
         "2026-03-01"]  # fmt: skip


def test_zoned_times_are_the_same_instants_on_both_engines(spark: SparkSession) -> None:
    from pipelines.aws.spark import run_transforms as transforms

    rows = [{"fan_id": "F1", "concert_id": "C1", "sale_id": f"S{i}", "sold_at": v,
             "channel": "web", "price_tier": "general", "quantity": "1", "unit_price": "5",
             "amount": "5", "_line": i + 2} for i, v in enumerate(ZONED)]  # fmt: skip
    con = duckdb.connect()
    con.execute("SET TimeZone = 'Asia/Tokyo'")
    con.register("raw", pa.Table.from_pylist(rows))
    plan = plan_transforms("ticket_sales", list(rows[0]), "raw")
    expected = con.execute(f"SELECT sold_at, _reasons FROM ({plan.sql}) ORDER BY _line").fetchall()
    result = transforms(spark, spark.createDataFrame(rows), "ticket_sales")
    got = [(r["sold_at"], r["_reasons"]) for r in sorted(result.checked.collect(),
                                                         key=lambda r: r["_line"])]  # fmt: skip
    assert got == [(at, list(reasons)) for at, reasons in expected]
    assert sum(at is not None for at, _ in got) == 12  # the rest: invalid_timestamp on both
