"""JSON and JSON Lines files into DuckDB: JSONTestSuite conformance, values as text, rejects."""

from __future__ import annotations

import gzip
from pathlib import Path

import duckdb
import pytest

from core.errors import SourceError
from pipelines.sources.files import read_file
from pipelines.sources.files_common import TableWriter
from tests.conftest import SHARED_DATA
from tests.pipelines.sources.conftest import rows, write

SUITE = sorted(path.name for path in (SHARED_DATA / "json-test-suite/test_parsing").glob("*.json"))


def tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [name for (name,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]


@pytest.mark.timeout(10)
@pytest.mark.parametrize("name", SUITE)
def test_json_test_suite_file_is_accepted_or_refused_cleanly(
    shared_data: Path, con: duckdb.DuckDBPyConnection, name: str
) -> None:
    path = shared_data / "json-test-suite" / "test_parsing" / name
    try:
        parsed = read_file(con, path, table="t")
    except SourceError as exc:
        assert not name.startswith("y_"), f"valid JSON refused: {exc}"
        assert str(path) in str(exc) and "not valid JSON" in str(exc)
        assert tables(con) == [], "a refused document must leave nothing behind"
        return
    assert not name.startswith("n_"), "invalid JSON accepted"
    assert all(r.reason.startswith("not an object") for r in parsed.rejects)
    assert con.execute("SELECT count(*) FROM t").fetchall() == [(parsed.rows,)]


@pytest.mark.parametrize(
    "name", [n for n in SUITE if n.startswith("n_")] or ["n_array_extra_comma.json"]
)
def test_invalid_documents_as_json_lines_yield_only_rejects(
    shared_data: Path, con: duckdb.DuckDBPyConnection, name: str
) -> None:
    path = shared_data / "json-test-suite" / "test_parsing" / name

    parsed = read_file(con, path, table="t", fmt="jsonl")

    # Blank files have no lines to reject; everything else must not become a record.
    assert parsed.rows == 0


def test_array_of_objects_becomes_text_columns_with_lines(tmp_path: Path, con) -> None:
    text = """[
  {"artist": "Muse", "capacity": 90000, "price": 1.50, "sold_out": true},
  {"artist": "Adele", "tags": ["pop", "soul"], "venue": {"city": "London"}, "price": null},
  {
    "artist": "Big", "capacity": 123456789012345678901234567890
  },
  "not an object"
]"""

    parsed = read_file(con, write(tmp_path / "a.json", text), table="t")

    assert parsed.columns == ["artist", "capacity", "price", "sold_out", "tags", "venue"]
    assert rows(con, parsed) == [
        {
            "artist": "Muse",
            "capacity": "90000",
            "price": "1.50",
            "sold_out": "true",
            "tags": None,
            "venue": None,
            "_line": 2,
        },
        {
            "artist": "Adele",
            "capacity": None,
            "price": None,
            "sold_out": None,
            "tags": '["pop","soul"]',
            "venue": '{"city":"London"}',
            "_line": 3,
        },
        {
            "artist": "Big",
            "capacity": "123456789012345678901234567890",
            "price": None,
            "sold_out": None,
            "tags": None,
            "venue": None,
            "_line": 4,
        },
    ]
    (reject,) = parsed.rejects
    assert (reject.line_number, reject.reason, reject.text) == (
        7,
        "not an object: a string",
        '"not an object"',
    )


def test_single_object_is_one_record(tmp_path: Path, con) -> None:
    parsed = read_file(con, write(tmp_path / "o.json", '\n {"a": "x", "A": 1}'), table="t")

    assert rows(con, parsed) == [{"a": "x", "A_2": "1", "_line": 2}]


def test_broken_document_raises_and_keeps_nothing(tmp_path: Path, con) -> None:
    text = '[{"a": 1},\n{"a": 2},\n{"a": 3,]'

    with pytest.raises(SourceError, match=r"b\.json is not valid JSON: .*line 3"):
        read_file(con, write(tmp_path / "b.json", text), table="t")
    assert tables(con) == []


def test_jsonl_broken_line_3_is_a_reject_with_its_line(tmp_path: Path, con) -> None:
    text = '{"a": 1}\n{"a": 2, "b": "x"}\n{"a": 3,\n\n[1, 2]\n{"b": "y"}\n'

    parsed = read_file(con, write(tmp_path / "e.jsonl", text), table="t")

    assert rows(con, parsed) == [
        {"a": "1", "b": None, "_line": 1},
        {"a": "2", "b": "x", "_line": 2},
        {"a": None, "b": "y", "_line": 6},
    ]
    assert [(r.line_number, r.reason.split(":")[0], r.text) for r in parsed.rejects] == [
        (3, "not valid JSON", '{"a": 3,'),
        (5, "not an object", "[1, 2]"),
    ]


def test_jsonl_invalid_utf8_and_nan_lines_are_rejects(tmp_path: Path, con) -> None:
    path = tmp_path / "u.ndjson.gz"
    with gzip.open(path, "wb") as file:
        file.write(b'{"a": "\xff"}\n{"a": NaN}\n{"a": "ok"}')

    parsed = read_file(con, path, table="t")

    assert [(r["a"], r["_line"]) for r in rows(con, parsed)] == [("ok", 3)]
    assert [(r.line_number, r.reason) for r in parsed.rejects] == [
        (1, "invalid UTF-8"),
        (2, "not valid JSON: NaN is not JSON"),
    ]


def test_empty_jsonl_is_zero_rows_but_empty_json_is_refused(tmp_path: Path, con) -> None:
    assert read_file(con, write(tmp_path / "e.jsonl", "\n"), table="t").rows == 0
    with pytest.raises(SourceError, match="empty"):
        read_file(con, write(tmp_path / "e.json", "  \n"), table="u")


def test_values_split_across_read_chunks_decode_whole(tmp_path: Path, con, monkeypatch) -> None:
    monkeypatch.setattr("pipelines.sources.files_json.CHUNK_CHARS", 7)
    text = '[{"n": 12345678901234}, {"s": "a long string value"}, {"t": true}]'

    parsed = read_file(con, write(tmp_path / "c.json", text), table="t")

    assert [(r["n"], r["s"], r["t"]) for r in rows(con, parsed)] == [
        ("12345678901234", None, None),
        (None, "a long string value", None),
        (None, None, "true"),
    ]


def test_writer_adds_columns_between_batches(con) -> None:
    writer = TableWriter(con, "w", batch_rows=2)
    for line, record in enumerate([{"a": "1"}, {"a": "2"}, {"b": "3"}, {"a": "4", "c": None}], 1):
        writer.add(record, line)

    assert writer.finish() == ["a", "b", "c"]
    assert con.execute("SELECT * FROM w").fetchall() == [
        ("1", None, None, 1),
        ("2", None, None, 2),
        (None, "3", None, 3),
        ("4", None, None, 4),
    ]
