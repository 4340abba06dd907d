"""Read CSV, JSON, JSON Lines and XML files into DuckDB as relations of text columns.

`read_file` creates a TEMP table (or view) in the caller's connection holding every field as
VARCHAR plus `_line`, the 1-based line where the record starts (`drop_table` removes it), and
returns a `ParsedFile` describing it with
the pieces of the file that could not become records (`StructuralReject`s). Parsing is faithful
and bounded in memory; renaming, validation and loading happen downstream.

| format | reader | a broken piece | a broken document |
|---|---|---|---|
| csv (.csv .tsv .txt) | DuckDB `read_csv` | reject with its line | — |
| jsonl (.jsonl .ndjson) | one line at a time | reject with its line | — |
| json | streaming decoder | non-object element: reject | `SourceError`, nothing kept |
| xml | defusedxml SAX | — | `SourceError` (also any DTD) |

`.gz` variants of the CSV and JSON names are decompressed on the fly.
"""

from __future__ import annotations

import codecs
import dataclasses
import json
from pathlib import Path
from typing import Final

import duckdb

from core.errors import SourceError
from pipelines.sources.files_common import (
    LINE_COLUMN,
    FileFormat,
    ParsedFile,
    StructuralReject,
    Transform,
    create,
    drop_table,
    open_binary,
    quote_ident,
    rows_table,
    scratch_name,
)
from pipelines.sources.files_csv import CsvPlan, plan_csv, read_csv
from pipelines.sources.files_json import read_json, read_jsonl
from pipelines.sources.files_xml import read_xml

__all__ = [
    "LINE_COLUMN",
    "CsvPlan",
    "FileFormat",
    "ParsedFile",
    "StructuralReject",
    "Transform",
    "detect_format",
    "drop_table",
    "plan_file",
    "read_file",
]

EXTENSIONS: Final[dict[str, FileFormat]] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".xml": "xml",
}
_COMPRESSED: Final = frozenset({".csv", ".tsv", ".txt", ".json", ".jsonl", ".ndjson"})
_SNIFF_BYTES: Final = 1 << 16


def _by_extension(path: Path) -> FileFormat | None:
    suffixes = [suffix.lower() for suffix in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        inner = suffixes[-2] if len(suffixes) > 1 else ""
        return EXTENSIONS[inner] if inner in _COMPRESSED else None
    return EXTENSIONS.get(suffixes[-1]) if suffixes else None


def _by_content(head: bytes) -> FileFormat:
    """Guess from the first bytes: markup is XML, a bracket JSON, one object per line JSON Lines."""
    text = head.removeprefix(codecs.BOM_UTF8).lstrip()
    if text.startswith(b"<"):
        return "xml"
    if text.startswith(b"["):
        return "json"
    if text.startswith(b"{"):
        first, _, rest = text.partition(b"\n")
        try:
            json.loads(first)
        except ValueError:
            return "json"  # an object spread over several lines
        return "jsonl" if rest.strip().startswith(b"{") else "json"
    return "csv"


def detect_format(path: Path) -> FileFormat:
    """The format by extension (`.csv`, `.json.gz`, …), else by sniffing the first bytes."""
    known = _by_extension(path)
    if known is not None:
        return known
    try:
        with open_binary(path) as file:
            head = file.read(_SNIFF_BYTES)
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc}", path=str(path)) from exc
    return _by_content(head)


def plan_file(con: duckdb.DuckDBPyConnection, path: Path) -> CsvPlan | None:
    """The part of reading a CSV file that comes before parsing it (see `plan_csv`), for a
    caller with other work on the file meanwhile; None for other formats or an unreadable file
    (`read_file` then finds out, and says why)."""
    try:
        return plan_csv(con, path) if detect_format(path) == "csv" else None
    except (SourceError, OSError, EOFError, duckdb.Error):
        return None


def read_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    table: str,
    fmt: FileFormat | None = None,
    transform: Transform | None = None,
    into: str = "temp",
    plan: CsvPlan | None = None,
) -> ParsedFile:
    """Read `path` into a new TEMP table `table` of `con`; see the module docstring.

    With `transform` the table holds its SELECT over the text rows instead (CSV applies it while
    parsing; the others after), and `into` may name an attached database to create it in.
    `plan`: a CSV file's `plan_file`, made beforehand.
    """
    if not path.is_file():
        raise SourceError(f"no such file: {path}", path=str(path))
    # Checked up front: on failure the readers drop `table`, which must never be the caller's.
    taken = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_catalog = ? "
        "AND lower(table_name) IN (lower(?), lower(?))",
        [into, table, rows_table(table)],
    ).fetchall()[0][0]
    if taken:
        raise SourceError(
            f"table {table!r} already exists in {into}; drop it or choose another name",
            table=table,
        )
    fmt = fmt or detect_format(path)
    try:
        if fmt == "csv":
            return read_csv(con, path, table, transform, into, plan)
        text = scratch_name("text") if transform or into != "temp" else table
        if fmt == "json":
            parsed = read_json(con, path, text)
        elif fmt == "jsonl":
            parsed = read_jsonl(con, path, text)
        else:
            parsed = read_xml(con, path, text)
        return parsed if text == table else _transformed(con, parsed, table, transform, into)
    except (OSError, EOFError) as exc:  # EOFError: a truncated .gz
        raise SourceError(f"cannot read {path}: {exc}", path=str(path)) from exc


def _transformed(
    con: duckdb.DuckDBPyConnection,
    parsed: ParsedFile,
    table: str,
    transform: Transform | None,
    into: str,
) -> ParsedFile:
    """`parsed`'s text rows through `transform`, as `into`.`table` (the text table is dropped)."""
    text = f"temp.{quote_ident(parsed.table)}"
    try:
        select = (
            transform(parsed.columns, text, [LINE_COLUMN]) if transform else f"SELECT * FROM {text}"
        )
        con.execute(f"{create('TABLE', into, table)} AS {select}")
    finally:
        drop_table(con, parsed.table)
    return dataclasses.replace(parsed, table=table, database=into)
