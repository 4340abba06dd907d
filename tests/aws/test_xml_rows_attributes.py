"""The Glue job's XML task functions read attribute-form and mixed records as `encore ingest`
does (pipelines/aws/xml_rows.py): the same columns and rows, the child element winning over an
attribute of the same name, prefixed attributes by their local name. No Spark needed: these are
the functions its tasks run."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.aws.xml_rows import columns_of, rows_of
from pipelines.sources.files import drop_table, read_file

CONCERTS = b"""<?xml version="1.0" encoding="UTF-8"?>
<concerts xmlns:e="http://example.com/encore">
  <concert concert_id="C1" artist_id="A1" venue_id="V1" event_date="2027-05-01" status="scheduled"/>
  <concert e:concert_id="C2" status="scheduled"><artist_id>A2</artist_id><venue_id>V2</venue_id>
  </concert>
  <concert concert_id="C-attribute" artist_id="A3"><concert_id>C3</concert_id>
    <Status>done</Status></concert>
</concerts>
"""


def test_attribute_form_and_mixed_records_give_the_local_readers_columns_and_rows(
    tmp_path: Path,
) -> None:
    path = tmp_path / "concerts.xml"
    path.write_bytes(CONCERTS)
    con = duckdb.connect()
    parsed = read_file(con, path, table="t")
    local = con.execute("SELECT * FROM t ORDER BY _line").fetchall()
    drop_table(con, "t")

    columns, refused = columns_of(CONCERTS)
    spark_rows = list(rows_of(CONCERTS, list(columns)))

    assert refused == ""
    expected = ["concert_id", "artist_id", "venue_id", "event_date", "status", "Status_2"]
    assert list(columns.values()) == parsed.columns == expected
    assert (
        spark_rows
        == local
        == [
            ("C1", "A1", "V1", "2027-05-01", "scheduled", None, 3),
            ("C2", "A2", "V2", None, "scheduled", None, 4),
            ("C3", "A3", None, None, None, "done", 6),  # the child <concert_id> wins
        ]
    )
