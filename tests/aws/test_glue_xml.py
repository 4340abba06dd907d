"""XML raw files in the Glue job: the rows `encore ingest` reads, and entity attacks refused.

On the session's local Spark (`spark` in conftest.py): the raw columns and rows the job reads of
a venues XML file, then the rows it curates and quarantines, equal the local ingest's of the same
file; the attack files fail with the local reader's refusal (`run_job` then fails that file).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow.parquet as pq
import pytest

from core.errors import SourceError
from core.schemas import ENTITY_SCHEMAS
from core.settings import Settings
from pipelines.ingest import ingest_files
from pipelines.sources.files import drop_table, read_file

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytestmark = pytest.mark.slow

VENUES_XML = """<?xml version="1.0" encoding="UTF-8"?>
<venues source="test">
  <venue id="V1">
    <name>Wembley  Stadium</name>
    <city>London</city><country>GB</country>
    <capacity>90000</capacity>
    <geo lat="51.556"><note>north-west</note></geo>
    <genre>rock</genre><genre>pop</genre>
  </venue>
  <!-- a comment between records -->
  <venue id="V2" type="arena"><name>Accor Arena</name><city>Paris</city><country>FR</country>
    <capacity>lots</capacity><Name>shadowed</Name></venue>
  <venue id="V3"><name>Caf\u00e9 de la Danse</name><city>Paris</city><country>FR</country>
    <capacity>500</capacity></venue>
</venues>
"""
ATTACKS = ("xmlbomb.xml", "external.xml")  # billion laughs; an external entity (a URL)


def _local_raw(path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    con = duckdb.connect()
    parsed = read_file(con, path, table="t")
    rows = con.execute("SELECT * FROM t ORDER BY _line")
    names = [d[0] for d in rows.description or []]
    found = [dict(zip(names, r, strict=True)) for r in rows.fetchall()]
    drop_table(con, "t")
    return parsed.columns, found


def _parquet_rows(folder: Path, fields: list[str]) -> list[dict[str, Any]]:
    rows = [row for path in sorted(folder.rglob("*.parquet"))
            for row in pq.read_table(path).to_pylist()]  # fmt: skip
    return sorted(({k: r[k] for k in fields} for r in rows), key=lambda r: r["_line"])


def test_xml_in_the_glue_job_gives_the_local_ingests_rows_and_refuses_attacks(
    spark: SparkSession, shared_data: Path, tmp_path: Path
) -> None:
    from pipelines.aws.glue_job import read_raw
    from pipelines.aws.spark import run_transforms

    venues = tmp_path / "venues.xml"
    venues.write_text(VENUES_XML, encoding="utf-8")

    # the raw rows, as the local reader reads them
    columns, expected = _local_raw(venues)
    assert "geo.lat" in columns and "Name_2" in columns  # dotted and case-clashing names
    frame = read_raw(spark, f"file://{venues}")
    assert frame.columns == [*columns, "_line"]
    assert [r.asDict() for r in frame.orderBy("_line").collect()] == expected

    # the curated rows and the quarantine, as the local ingest makes them of the same file
    settings = Settings(data_dir=tmp_path / "encore")
    [ingested] = ingest_files(settings, [venues], source="files")
    assert ingested.status == "succeeded", ingested.message
    fields = [*ENTITY_SCHEMAS["venues"].model_fields, "_line"]
    local = _parquet_rows(settings.data_dir / "lake" / "curated" / "venues", fields)
    checked = run_transforms(spark, frame, "venues").checked.collect()
    curated = sorted(({k: r[k] for k in fields} for r in checked if not r["_reasons"]),
                     key=lambda r: r["_line"])  # fmt: skip
    assert [r["venue_id"] for r in curated] == ["V1", "V3"]  # V2's capacity is not a number
    assert curated == local
    assert [(r["_line"], r["_reasons"]) for r in checked if r["_reasons"]] == [
        (line, list(reasons)) for line, reasons in ingested.quarantine_samples
    ]

    # what the local reader refuses, the job refuses: the file fails, nothing is expanded
    for name in ATTACKS:
        path = shared_data / "xml-attack-samples-defusedxml" / name
        with pytest.raises(SourceError, match="XML with a DTD / entity declarations is refused"):
            read_raw(spark, f"file://{path}")
