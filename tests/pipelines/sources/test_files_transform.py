"""A transform's refusal of a CSV comes back at once, not after a second scan of the file."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from core.errors import SourceError
from pipelines.sources import files_csv
from pipelines.sources.files import read_file
from pipelines.transforms.validating import Validation


def test_columns_that_fit_no_entity_fail_without_the_full_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "weather.csv"
    path.write_text("station,temperature\nOSL,3.5\nBGO,7.1\n")

    def full_scan(*_: object) -> None:
        raise AssertionError("the file was scanned again with Python's csv")

    monkeypatch.setattr(files_csv, "_layout", full_scan)
    monkeypatch.setattr(files_csv, "_simple_layout", full_scan)
    con = duckdb.connect()
    with pytest.raises(SourceError, match=r"none of the columns .* fit ticket_sales"):
        read_file(con, path, table="_raw", transform=Validation("ticket_sales", path))
    # and nothing is left behind to collide with the next file's table
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchall() == [(0,)]


def test_a_file_duckdb_refuses_quickly_still_gets_the_full_scan(tmp_path: Path) -> None:
    # a quoted newline in a padded short row: DuckDB's parallel reader refuses the quick layout
    path = tmp_path / "sales.csv"
    path.write_text('sale_id,concert_id,note\nS1,C1\nS2,C2,"two\nlines"\nS3,C3,x\n')
    con = duckdb.connect()
    parsed = read_file(con, path, table="_raw")
    lines = con.execute(f"SELECT _line, sale_id FROM {parsed.relation} ORDER BY _line").fetchall()
    assert lines == [(2, "S1"), (3, "S2"), (5, "S3")]
