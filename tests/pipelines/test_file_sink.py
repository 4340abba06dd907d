"""FileSink writes real files that standard readers load back unchanged, and never half a file."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from core.errors import EncoreError
from pipelines.sinks.files import FILE_FORMATS, FileSink, WrittenFile

TRICKY = 'Ampersand & <tag> "quoted", comma\nnewline Beyoncé'


def _sales(first: int, n: int, *, decimal: bool = False) -> pa.Table:
    """A ticket_sales chunk in the contract shape, with nulls and text that needs escaping."""
    ids = range(first, first + n)
    unit = [Decimal(f"{10 + i % 7}.50") for i in ids]
    amount = [u * (1 + i % 3) for u, i in zip(unit, ids, strict=True)]
    money = pa.decimal128(10, 2) if decimal else pa.float64()
    return pa.table(
        {
            "sale_id": [f"S{i:06d}" for i in ids],
            "concert_id": [TRICKY if i % 5 == 0 else f"C{i % 9:04d}" for i in ids],
            "fan_id": [None if i % 4 == 0 else f"F{i:05d}" for i in ids],
            "sold_at": pa.array(
                [datetime(2024, 5, 1 + i % 28, 19, 30, i % 60) for i in ids], pa.timestamp("s")
            ),
            "event_date": pa.array([date(2024, 6, 1 + i % 28) for i in ids], pa.date32()),
            "quantity": pa.array([1 + i % 3 for i in ids], pa.int32()),
            "unit_price": pa.array(unit if decimal else [float(u) for u in unit], money),
            "amount": pa.array(amount if decimal else [float(a) for a in amount], money),
        }
    )


def _write(
    tmp_path: Path, fmt: str, chunks: list[pa.Table], name: str = "ticket_sales"
) -> dict[str, WrittenFile]:
    with FileSink(tmp_path, fmt) as sink:  # type: ignore[arg-type]
        for chunk in chunks:
            sink.write(name, chunk)
    return sink.close()


@pytest.mark.parametrize("fmt", FILE_FORMATS)
def test_written_file_reports_path_rows_and_bytes(tmp_path: Path, fmt: str) -> None:
    written = _write(tmp_path, fmt, [_sales(1, 30), _sales(31, 20)], name="crm/ticket_sales")
    info = written["crm/ticket_sales"]
    assert info.path == tmp_path / "crm" / f"ticket_sales.{fmt}"
    assert info.rows == 50
    assert info.bytes == info.path.stat().st_size > 0
    assert not list(tmp_path.rglob("*.part"))


def test_csv_has_one_header_and_round_trips(tmp_path: Path) -> None:
    expected = pa.concat_tables([_sales(1, 30), _sales(31, 20)])
    path = _write(tmp_path, "csv", [_sales(1, 30), _sales(31, 20)])["ticket_sales"].path
    assert path.read_text().count("sale_id") == 1
    options = pa_csv.ConvertOptions(
        column_types=expected.schema, strings_can_be_null=True, quoted_strings_can_be_null=False
    )
    back = pa_csv.read_csv(path, convert_options=options)
    assert back.to_pylist() == expected.to_pylist()


@pytest.mark.parametrize("decimal", [False, True])
def test_json_is_one_array_with_iso_dates_and_numeric_money(tmp_path: Path, decimal: bool) -> None:
    path = _write(
        tmp_path, "json", [_sales(1, 30, decimal=decimal), _sales(31, 20, decimal=decimal)]
    )["ticket_sales"].path
    rows = json.loads(path.read_text())
    assert [r["sale_id"] for r in rows] == [f"S{i:06d}" for i in range(1, 51)]
    first = rows[0]
    assert first["sold_at"] == "2024-05-02T19:30:01"
    assert first["event_date"] == "2024-06-02"
    assert isinstance(first["unit_price"], (int, float)) and first["unit_price"] == 11.5
    assert rows[4]["concert_id"] == TRICKY
    assert rows[3]["fan_id"] is None
    # DuckDB reads it as the array of records it is
    assert duckdb.sql(f"SELECT count(*) FROM read_json('{path}')").fetchall() == [(50,)]


def test_empty_json_is_still_valid(tmp_path: Path) -> None:
    path = _write(tmp_path, "json", [_sales(1, 0)])["ticket_sales"].path
    assert json.loads(path.read_text()) == []


def test_xml_escapes_text_and_omits_null_columns(tmp_path: Path) -> None:
    chunk = _sales(1, 10).set_column(1, "concert_id", pa.array([TRICKY + "\x01"] * 10))
    path = _write(tmp_path, "xml", [chunk], name="crm/ticket_sales")["crm/ticket_sales"].path
    root = ET.parse(path).getroot()
    assert root.tag == "ticket_sales"
    rows = list(root)
    assert len(rows) == 10 and {r.tag for r in rows} == {"ticket_sale"}
    assert rows[0].findtext("concert_id") == TRICKY  # the control character is dropped
    assert rows[3].find("fan_id") is None
    assert rows[0].findtext("sold_at") == "2024-05-02T19:30:01"
    assert rows[0].findtext("unit_price") == "11.5"


def test_xml_rows_of_unknown_tables_are_records(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "xml", [pa.table({"table": ["a"], "row_number": [1]})], name="gt/bad_rows"
    )["gt/bad_rows"].path
    root = ET.parse(path).getroot()
    assert (root.tag, root[0].tag, root[0].findtext("table")) == ("bad_rows", "record", "a")


@pytest.mark.parametrize("decimal", [False, True])
def test_parquet_round_trips_with_zstd(tmp_path: Path, decimal: bool) -> None:
    chunks = [_sales(1, 30, decimal=decimal), _sales(31, 20, decimal=decimal)]
    path = _write(tmp_path, "parquet", chunks)["ticket_sales"].path
    expected = pa.concat_tables(chunks)
    # Parquet has no second-resolution timestamps; they come back as milliseconds
    assert pq.read_table(path).cast(expected.schema).equals(expected)
    assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD"


@pytest.mark.parametrize("fmt", FILE_FORMATS)
def test_same_input_gives_identical_bytes(tmp_path: Path, fmt: str) -> None:
    first = _write(tmp_path / "a", fmt, [_sales(1, 40)])["ticket_sales"].path.read_bytes()
    second = _write(tmp_path / "b", fmt, [_sales(1, 40)])["ticket_sales"].path.read_bytes()
    assert first == second


@pytest.mark.parametrize("fmt", FILE_FORMATS)
def test_unfinished_file_never_has_its_final_name(tmp_path: Path, fmt: str) -> None:
    sink = FileSink(tmp_path, fmt)  # type: ignore[arg-type]
    sink.write("crm/ticket_sales", _sales(1, 30))
    final = tmp_path / "crm" / f"ticket_sales.{fmt}"
    assert not final.exists()
    assert (tmp_path / "crm" / f"ticket_sales.{fmt}.part").exists()
    sink.close()
    assert final.exists()


def test_error_inside_the_block_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), FileSink(tmp_path, "csv") as sink:
        sink.write("ticket_sales", _sales(1, 30))
        raise RuntimeError("killed")
    assert list(tmp_path.rglob("*")) == []


def test_a_chunk_in_another_schema_is_refused(tmp_path: Path) -> None:
    sink = FileSink(tmp_path, "parquet")
    sink.write("ticket_sales", _sales(1, 5))
    with pytest.raises(EncoreError, match="does not match"):
        sink.write("ticket_sales", pa.table({"other": [1]}))
    sink.abort()
    assert list(tmp_path.rglob("*.parquet*")) == []


@pytest.mark.parametrize("name", ["../escape", "/abs", "a/../b", ""])
def test_names_must_be_relative_paths(tmp_path: Path, name: str) -> None:
    with pytest.raises(EncoreError, match="relative path"):
        FileSink(tmp_path, "csv").write(name, _sales(1, 1))


def test_spellings_of_one_name_share_one_file_and_close_is_repeatable(tmp_path: Path) -> None:
    sink = FileSink(tmp_path, "csv")
    sink.write("crm/ticket_sales", _sales(1, 3))
    sink.write("crm//ticket_sales", _sales(4, 2))
    first = sink.close()
    assert first == sink.close()
    assert first["crm/ticket_sales"].rows == 5
    with pytest.raises(EncoreError, match="closed"):
        sink.write("crm/ticket_sales", _sales(6, 1))


def test_abort_removes_every_unfinished_file(tmp_path: Path) -> None:
    sink = FileSink(tmp_path, "json")
    for name in ("a/one", "b/two", "three"):
        sink.write(name, _sales(1, 3))
    sink.abort()
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
