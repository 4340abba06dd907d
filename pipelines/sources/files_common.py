"""What the file readers share: result types, column naming and a batched DuckDB table writer.

`files.py` is the public entry point; the CSV, JSON and XML readers live beside it in
`files_csv.py`, `files_json.py` and `files_xml.py`.
"""

from __future__ import annotations

import gzip
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final, Literal, cast

import duckdb
import pyarrow as pa

from core.warehouse import drop_temp
from core.warehouse import quote_ident as quote_ident  # re-exported for the readers

FileFormat = Literal["csv", "json", "jsonl", "xml"]

LINE_COLUMN: Final = "_line"
REJECT_TEXT_LIMIT: Final = 2_000
BATCH_ROWS: Final = 50_000
GZIP_MAGIC: Final = b"\x1f\x8b"


@dataclass(frozen=True)
class StructuralReject:
    """A piece of the file that could not become a record, with where it starts and why."""

    line_number: int | None
    reason: str
    text: str | None
    """The offending text, truncated to 2,000 characters."""


Transform = Callable[[list[str], str, list[str]], str]
"""What a reader stores in place of the text rows: given the file's columns, a relation holding
them as text and the columns to pass through, a SELECT over that relation giving one row per
row, in its order (the ingest's validation: it parses and checks the text as it is read)."""


@dataclass(frozen=True)
class ParsedFile:
    """A file read into a TEMP table of text columns plus `_line`, and what could not be read."""

    path: Path
    format: FileFormat
    table: str
    """A TEMP table or view in the caller's connection, or in the attached database `database`;
    drop it with `drop_table`."""
    columns: list[str]
    """The text columns in file order; `_line` is not listed."""
    rows: int
    rejects: list[StructuralReject]
    database: str = "temp"
    """Where `table` is: the connection's temp schema, or the database the caller named."""

    @property
    def relation(self) -> str:
        """`table`, qualified with its database."""
        return f"{quote_ident(self.database)}.{quote_ident(self.table)}"


def clip(text: str | None) -> str | None:
    """`text` cut to the reject limit, so one runaway line cannot bloat the reject list."""
    return None if text is None else text[:REJECT_TEXT_LIMIT]


def quote_literal(text: str) -> str:
    """A DuckDB string literal."""
    return "'" + text.replace("'", "''") + "'"


def scratch_name(purpose: str) -> str:
    """A unique name for a helper table that never collides with the caller's tables."""
    return f"_encore_{purpose}_{uuid.uuid4().hex[:12]}"


def rows_table(name: str) -> str:
    """The TEMP table holding the rows when `name` is a view over them (see files_csv)."""
    return f"{name}__rows"


def create(kind: Literal["TABLE", "VIEW"], database: str, name: str) -> str:
    """`CREATE <kind>` of `name` in `database` (DuckDB spells the temp schema's `CREATE TEMP`)."""
    if database == "temp":
        return f"CREATE TEMP {kind} {quote_ident(name)}"
    return f"CREATE {kind} {quote_ident(database)}.{quote_ident(name)}"


def drop_table(con: duckdb.DuckDBPyConnection, table: str, database: str = "temp") -> None:
    """Drop a parsed file's TEMP table, or its view and the rows table behind it, if they exist."""
    drop_temp(con, table, database)
    drop_temp(con, rows_table(table), database)


def scrub(text: str) -> str:
    """`text` with lone surrogates (valid JSON escapes, invalid Unicode) replaced by U+FFFD."""
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def _text_array(values: list[str | None]) -> pa.Array:
    try:
        return pa.array(values, pa.string())
    except UnicodeEncodeError:
        return pa.array([None if v is None else scrub(v) for v in values], pa.string())


def open_binary(path: Path) -> IO[bytes]:
    """The file's bytes, decompressed when it starts with the gzip magic number."""
    with path.open("rb") as probe:
        magic = probe.read(2)
    if magic == GZIP_MAGIC:
        return cast("IO[bytes]", gzip.open(path, "rb"))
    return path.open("rb")


class ColumnNames:
    """Allocates column names in first-seen order, unique without regard to case.

    DuckDB identifiers are case-insensitive, so `A` after `a` becomes `A_2`; `_line` is taken by
    the line-number column; a blank name becomes `column<position>`; NUL (which DuckDB cannot hold
    in an identifier) and lone surrogates become U+FFFD.
    """

    def __init__(self) -> None:
        self._taken: set[str] = {LINE_COLUMN}
        self.names: list[str] = []

    def add(self, raw: str) -> str:
        """Allocate and return the column name for header `raw`."""
        base = scrub(raw).replace("\x00", "\ufffd")
        if not base.strip():
            base = f"column{len(self.names) + 1}"
        name, suffix = base, 2
        while name.casefold() in self._taken:
            name, suffix = f"{base}_{suffix}", suffix + 1
        self._taken.add(name.casefold())
        self.names.append(name)
        return name


def unique_names(header: Iterable[str]) -> list[str]:
    """Header names as written, de-duplicated: `a, a` becomes `a, a_2`."""
    names = ColumnNames()
    for raw in header:
        names.add(raw)
    return names.names


class TableWriter:
    """Appends records to a TEMP table in Arrow batches, adding a column per new field.

    Records arrive as `{field key: text}`; a key becomes a column the first time it is seen, named
    by `display(key)`. Rows go to a staging table and `finish` copies them into `table` with the
    columns in first-seen order and `_line` last.
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        table: str,
        display: Callable[[str], str] = str,
        batch_rows: int = BATCH_ROWS,
    ) -> None:
        self._con = con
        self._table = table
        self._display = display
        self._batch_rows = batch_rows
        self._stage = scratch_name("stage")
        self._names = ColumnNames()
        self._columns: dict[str, str] = {}
        self._lines: list[int | None] = []
        self._records: list[Mapping[str, str | None]] = []
        self.rows = 0
        con.execute(f"CREATE TEMP TABLE {quote_ident(self._stage)} ({LINE_COLUMN} BIGINT)")

    def add(self, record: Mapping[str, str | None], line: int | None) -> None:
        """Queue one record; a full batch is written to DuckDB."""
        if not self._columns.keys() >= record.keys():
            for key in (k for k in record if k not in self._columns):
                self._columns[key] = self._names.add(self._display(key))
                self._con.execute(
                    f"ALTER TABLE temp.{quote_ident(self._stage)} "
                    f"ADD COLUMN {quote_ident(self._columns[key])} VARCHAR"
                )
        self._records.append(record)
        self._lines.append(line)
        if len(self._records) >= self._batch_rows:
            self.flush()

    def flush(self) -> None:
        """Write the queued records as one Arrow batch."""
        if not self._records:
            return
        keys = {key for record in self._records for key in record}
        arrays = {LINE_COLUMN: pa.array(self._lines, pa.int64())}
        for key in keys:
            values = [record.get(key) for record in self._records]
            arrays[self._columns[key]] = _text_array(values)
        batch = pa.table(arrays)
        view = scratch_name("batch")
        self._con.register(view, batch)
        try:
            self._con.execute(
                f"INSERT INTO temp.{quote_ident(self._stage)} BY NAME "
                f"SELECT * FROM {quote_ident(view)}"
            )
        finally:
            self._con.unregister(view)
        self.rows += len(self._records)
        self._records, self._lines = [], []

    def finish(self) -> list[str]:
        """Create `table` from the staged rows and return its text columns in first-seen order."""
        self.flush()
        select = ", ".join(quote_ident(name) for name in [*self._names.names, LINE_COLUMN])
        self._con.execute(
            f"CREATE TEMP TABLE {quote_ident(self._table)} AS "
            f"SELECT {select} FROM temp.{quote_ident(self._stage)}"
        )
        self.discard()
        return list(self._names.names)

    def discard(self) -> None:
        """Drop the staging table (also after a failure, so nothing partial is left)."""
        drop_table(self._con, self._stage)
