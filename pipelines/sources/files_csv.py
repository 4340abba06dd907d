"""CSV and TSV files into a TEMP table of text columns, read by DuckDB's CSV reader.

(Or into a table of another attached database, transformed as it is read: see `Transform`.)

DuckDB sniffs the delimiter, quote and escape (when one stray quote makes it settle on "no
quoting", `"` is used instead, so quoted fields stay whole and the stray line is rejected) and
parses the file, streaming, in parallel unless a quoted field spans lines. The first line is the
header, names as written and de-duplicated. Broken records — too many columns, a value after a
closing quote, invalid UTF-8 — come back as `StructuralReject`s from DuckDB's rejects table;
short rows are padded with NULL. A bare empty field is NULL, a quoted one (`""`) empty text.

DuckDB numbers records, not lines: a quoted field holding newlines shifts every later line
number. So a Python `csv` pass over the file notes where each record starts; both passes number
records alike (blank lines count), and `_line` zips each DuckDB row with the physical line where
its record starts. The pass keeps only the exceptions (blank lines, records spanning lines), so
Python holds about two int64 per row, never the text. It also catches a quote left open at the
end of the file, which DuckDB would otherwise swallow silently. Lines are counted at `\n`, `\r\n`
and `\r`; should the two parsers ever disagree on a record boundary, a warning is logged.

Most files need neither pass: when a file has no `\r`, no blank line and an even number of
quote characters, each record is assumed to be one line, which DuckDB's own count then confirms
(a record spanning lines would leave fewer records than lines). Only if it does not is the file
scanned again, as above. Such a file's rows are then numbered by a view (`rowid + 2`) rather than
zipped with a list of lines: DuckDB zips by position on one thread, while the view leaves the
parse, and everything that reads the rows, parallel.
"""

from __future__ import annotations

import bisect
import csv
import io
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import duckdb
import numpy as np
import pyarrow as pa

from core.errors import SourceError
from pipelines.sources.files_common import (
    LINE_COLUMN,
    ParsedFile,
    StructuralReject,
    Transform,
    clip,
    create,
    drop_table,
    open_binary,
    quote_ident,
    quote_literal,
    rows_table,
    scratch_name,
    unique_names,
)

logger = logging.getLogger(__name__)

_EMPTY: Final = "(empty)"
"""How `sniff_csv` spells an absent quote or escape character."""


@dataclass(frozen=True)
class _Dialect:
    delimiter: str
    quote: str
    escape: str


@dataclass
class _Layout:
    """Where records start, from the Python pass; record ordinals count the header and blanks."""

    header: list[str] | None = None
    records: int = 0
    blanks: list[int] = field(default_factory=list)
    shifts: list[tuple[int, int]] = field(default_factory=list)
    """(first record ordinal, physical line minus ordinal from there on), when it changes."""
    unterminated: tuple[int, int] | None = None
    """(ordinal, line) of a record whose quote is still open at the end of the file."""

    def lines(self, excluded: list[int], rows: int) -> np.ndarray:
        """The start line of each of `rows` rows, skipping the (sorted) ordinals in `excluded`."""
        line = np.arange(1, rows + 1, dtype=np.int64)
        if excluded == [1] and not self.shifts:
            return line + 1  # the usual file: one header line, one line per record
        gone = np.asarray(excluded, dtype=np.int64)
        # Row k is the k-th ordinal not excluded: it lies after every excluded e_j (j 1-based)
        # with e_j - j + 1 <= k, and those are the first ones since e_j - j never decreases.
        # In-place steps keep Python's memory at about two int64 per row.
        step = np.searchsorted(gone - np.arange(len(gone)), line, side="right")
        line += step
        starts = np.asarray([first for first, _ in self.shifts], dtype=np.int64)
        values = np.asarray([0, *(value for _, value in self.shifts)], dtype=np.int64)
        step = np.searchsorted(starts, line, side="right")
        line += np.take(values, step, out=step)
        return line

    def physical(self, ordinal: int) -> int:
        """The line where record `ordinal` starts."""
        at = bisect.bisect_right(self.shifts, (ordinal, sys.maxsize))
        return ordinal + (self.shifts[at - 1][1] if at else 0)


CsvPlan = tuple["_Dialect | None", "_Layout | None"]
"""A file's dialect (None: empty) and, when each record looks like one line, its layout."""


def plan_csv(con: duckdb.DuckDBPyConnection, path: Path) -> CsvPlan:
    """What `read_csv` finds out before it parses: the dialect and the quick layout.

    A caller with other work on the file (hashing it) makes the plan meanwhile and passes it
    in; `SourceError` when the file cannot be read as CSV.
    """
    dialect = _sniff(con, path)
    return dialect, (_quick_layout(path, dialect) if dialect is not None else None)


def _sniff(con: duckdb.DuckDBPyConnection, path: Path) -> _Dialect | None:
    """The file's dialect, or None when there is nothing to sniff (an empty file)."""
    try:
        rows = con.execute(
            # 4,096 rows settle the dialect (no types are sniffed) in a third of the time the
            # default 20,480 take; a quote first seen later is handled below
            "SELECT Delimiter, Quote, Escape FROM sniff_csv(?, header = true, "
            "all_varchar = true, ignore_errors = true, sample_size = 4096)",
            [str(path)],
        ).fetchall()
    except duckdb.Error as exc:
        with open_binary(path) as file:
            if not file.read(1 << 16).strip():
                return None
        raise SourceError(
            f"could not detect the CSV dialect of {path}: {exc}", path=str(path)
        ) from exc
    delimiter, quote, escape = rows[0]
    # With one stray quote in the sample the sniffer settles on "no quoting", which splits every
    # quoted field at its commas and newlines; the standard quote keeps them whole and turns the
    # stray quote's line into a reject instead.
    quote = '"' if quote == _EMPTY else quote
    escape = quote if escape == _EMPTY else escape
    return _Dialect(delimiter, quote, escape)


_CHUNK: Final = 1 << 20

_ROW_GROUP: Final = 122_880
"""Rows in a DuckDB row group (its default)."""
_SMALLEST_BUFFER: Final = 8 << 20
"""Below this the reader's own buffer size is kept (it behaves like 8 MB here)."""


def _buffer_size(path: Path, records: int, threads: int) -> int | None:
    """A `read_csv` buffer that holds a row group's worth of records, or None for the default.

    DuckDB keeps the file's order by numbering the parsed batches; a batch smaller than a row
    group is copied again to merge it with its neighbours. With 80-byte rows its default
    buffer holds about 100,000 records, and that merge was 0.15 of the 1.1 CPU-seconds of
    validating a million sales (DuckDB 2.0.1; `encore bench ingest`). The file is cut into
    equal buffers, as many as fit, in a multiple of the threads so that none waits for the
    last one (8 of 10.1 MiB for the 81 MiB benchmark file).
    """
    size = path.stat().st_size
    if records <= 0:
        return None
    smallest = 1.05 * _ROW_GROUP * size / records
    count = max(threads, int(size // smallest) // threads * threads)
    buffer = -(-size // count)
    return buffer if buffer > _SMALLEST_BUFFER else None


def _simple_layout(path: Path, dialect: _Dialect) -> _Layout | None:
    """The layout of a file whose records are one line each (`\n` ends), or None if not so.

    Every line holding an even number of quote characters means no quoted field spans lines,
    so a vectorised byte scan finds the header, the blank lines and the record count, several
    times faster than the `csv` pass, which remains for every other file.
    """
    quote = dialect.quote.encode() if dialect.quote not in ("", _EMPTY) else b""
    if dialect.escape not in ("", _EMPTY, dialect.quote):
        return None  # a backslash escape can hide a quote: let the csv pass decide
    layout = _Layout()
    lines, tail, first = 0, b"", b""
    with open_binary(path) as binary:
        while True:
            chunk = binary.read(_CHUNK)
            data = tail + chunk
            cut = data.rfind(b"\n") + 1 if chunk else len(data)
            data, tail = data[:cut], data[cut:]
            if not data:
                break
            if b"\r" in data:
                return None
            if not first:
                first = data[: data.find(b"\n")] if b"\n" in data else data
            bytes_ = np.frombuffer(data, dtype=np.uint8)
            ends = np.flatnonzero(bytes_ == 10)
            if quote:
                at = np.flatnonzero(bytes_ == quote[0])
                before = np.searchsorted(at, ends)  # quotes before each line end
                if (
                    np.any(np.diff(before, prepend=0) % 2)
                    or (len(at) - (before[-1] if len(ends) else 0)) % 2
                ):
                    return None  # a quoted field spans lines, or a quote is left open
            starts = np.concatenate(([0], ends[:-1] + 1)) if len(ends) else np.array([0])
            empty = np.flatnonzero(bytes_[starts] == 10) if len(ends) else np.array([], int)
            layout.blanks.extend(int(i) + lines + 1 for i in empty)
            lines += len(ends) + (0 if data.endswith(b"\n") else 1)
            if not chunk:
                break
    if lines == 0 or not first:
        return None
    text = first.decode("utf-8", errors="replace")
    header = csv.reader([text], delimiter=dialect.delimiter, quotechar=dialect.quote or '"')
    layout.header = next(header) if quote else text.split(dialect.delimiter)
    layout.records = lines
    return layout


def _quick_layout(path: Path, dialect: _Dialect) -> _Layout | None:
    """The layout of a file if each record is one line, from byte counts; None if unsure.

    Counting is far cheaper than finding every line: whether each record really is one line
    is left to DuckDB's record count (see `read_csv`).
    """
    quote = dialect.quote.encode() if dialect.quote not in ("", _EMPTY) else b""
    if dialect.escape not in ("", _EMPTY, dialect.quote) or len(quote) > 1:
        return None
    lines = quotes = 0
    first, last = b"", b"\n"
    with open_binary(path) as binary:
        while chunk := binary.read(_CHUNK):
            if b"\r" in chunk:
                return None  # carriage returns take the full scan
            bytes_ = np.frombuffer(chunk, dtype=np.uint8)
            ends = bytes_ == 10
            if (last == b"\n" and ends[0]) or np.any(ends[1:] & ends[:-1]):
                return None  # so do blank lines
            if not first:
                first = chunk
            lines += int(np.count_nonzero(ends))
            quotes += int(np.count_nonzero(bytes_ == quote[0])) if quote else 0
            last = chunk[-1:]
    if not first or quotes % 2:
        return None  # empty, or a quote left open somewhere
    layout = _Layout(records=lines + (0 if last == b"\n" else 1))
    head = first.split(b"\n", 1)[0].decode("utf-8", errors="replace")
    reader = csv.reader([head], delimiter=dialect.delimiter, quotechar=dialect.quote or '"')
    layout.header = next(reader) if quote else head.split(dialect.delimiter)
    return layout


def _layout(path: Path, dialect: _Dialect) -> _Layout:
    """Scan the file with Python's `csv` for where each record starts."""
    # Raise the process-wide field limit: a legitimately long field must not look broken.
    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))
    layout = _Layout()
    with open_binary(path) as binary:
        text = io.TextIOWrapper(binary, encoding="utf-8", errors="replace", newline="")
        reader = csv.reader(
            text,
            delimiter=dialect.delimiter,
            quotechar=dialect.quote,
            doublequote=dialect.escape == dialect.quote,
            escapechar=None if dialect.escape == dialect.quote else dialect.escape,
            strict=True,
        )
        layout.header = next(reader, None)
        ordinal, shift = (1, 0) if layout.header is not None else (0, 0)
        if reader.line_num > 1:
            shift = reader.line_num - 1
            layout.shifts.append((2, shift))
        while True:
            try:
                # The hot loop: a record starts at ordinal + shift, so only changes are stored.
                for record in reader:
                    ordinal += 1
                    if not record:
                        layout.blanks.append(ordinal)
                    if reader.line_num - ordinal != shift:
                        shift = reader.line_num - ordinal
                        layout.shifts.append((ordinal + 1, shift))
                break
            except csv.Error as exc:
                ordinal += 1
                if "unexpected end of data" in str(exc):
                    layout.unterminated = (ordinal, ordinal + shift)
                if reader.line_num - ordinal != shift:
                    shift = reader.line_num - ordinal
                    layout.shifts.append((ordinal + 1, shift))
        layout.records = ordinal
    return layout


def _load(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    table: str,
    dialect: _Dialect,
    columns: list[str],
    rejects: tuple[str, str],
    parallel: bool,
    transform: Transform | None,
    into: str,
    records: int,
) -> int:
    """Create `table` from DuckDB's parse of the file (through `transform`), in file order;
    return its row count. `records` is how many the file holds (a size for the buffer)."""
    spec = ", ".join(f"{quote_literal(name)}: 'VARCHAR'" for name in columns)
    threads = int(con.execute("SELECT current_setting('threads')").fetchall()[0][0])
    buffer = _buffer_size(path, records, threads) if parallel else None
    parse = (
        f"read_csv({quote_literal(str(path))}, "
        f"auto_detect = false, header = true, columns = {{{spec}}}, "
        f"delim = {quote_literal(dialect.delimiter)}, quote = {quote_literal(dialect.quote)}, "
        f"escape = {quote_literal(dialect.escape)}, null_padding = true, "
        f"allow_quoted_nulls = false, strict_mode = true, ignore_errors = true, "
        f"store_rejects = true, rejects_table = {quote_literal(rejects[0])}, "
        f"rejects_scan = {quote_literal(rejects[1])}, parallel = {str(parallel).lower()}"
        + (f", buffer_size = {buffer})" if buffer else ")")
    )
    # a transform runs inside the parse: the rows are stored once, already transformed
    select = transform(columns, parse, []) if transform else f"SELECT * FROM {parse}"
    created = con.execute(f"{create('TABLE', into, table)} AS {select}").fetchall()
    return int(created[0][0])


def _number(
    con: duckdb.DuckDBPyConnection, table: str, parsed: str, lines: np.ndarray | None, into: str
) -> None:
    """Create `table`: the rows of `parsed`, each with `_line`, where its record starts.

    In the usual file (a header, then one line per record) that is the row's position plus
    two, which a view computes: the rows are not copied. Otherwise each row is zipped with its
    entry of `lines`; DuckDB zips by position on one thread only, hence not for every file.
    """
    database = quote_ident(into)
    if lines is None:
        con.execute(
            f"{create('VIEW', into, table)} AS SELECT *, rowid + 2 AS {LINE_COLUMN} "
            f"FROM {database}.{quote_ident(parsed)}"
        )
        return
    view = scratch_name("lines")
    con.register(view, pa.table({LINE_COLUMN: pa.array(lines, pa.int64())}))
    try:
        con.execute(
            f"{create('TABLE', into, table)} AS SELECT * "
            f"FROM {database}.{quote_ident(parsed)} POSITIONAL JOIN {quote_ident(view)}"
        )
    finally:
        con.unregister(view)
    drop_table(con, parsed, into)


def _rejects(con: duckdb.DuckDBPyConnection, errors: str) -> list[tuple[int, str, str | None]]:
    """(record ordinal, reason, text) of every record DuckDB rejected, in file order."""
    # DuckDB stores one error per surplus column; the last one carries the full count.
    rows = con.execute(
        f"SELECT line, arg_max(lower(error_type::VARCHAR) || ': ' || error_message, column_idx), "
        f"any_value(csv_line) FROM temp.{quote_ident(errors)} GROUP BY line ORDER BY line"
    ).fetchall()
    return [(int(line), str(reason), text) for line, reason, text in rows]


def read_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    table: str,
    transform: Transform | None = None,
    into: str = "temp",
    plan: CsvPlan | None = None,
) -> ParsedFile:
    """Read a CSV/TSV file with a header line into `into`.`table`; see the module docstring.

    With `transform`, the rows stored are its SELECT over the parsed text (see `Transform`);
    `plan`, the file's `plan_csv` when the caller made it already.
    """
    dialect, quick = plan or plan_csv(con, path)
    if dialect is None:
        return _empty(con, path, table, into)
    if quick is not None:
        try:
            parsed = _parse(con, path, table, dialect, quick, trusted=False,
                            transform=transform, into=into)  # fmt: skip
        except _ParseRefusedError:
            parsed = None  # e.g. a quoted newline DuckDB's parallel reader refuses
        if parsed is not None:
            return parsed
    layout = _simple_layout(path, dialect) or _layout(path, dialect)
    if layout.header is None:
        return _empty(con, path, table, into)
    parsed = _parse(con, path, table, dialect, layout, trusted=True,
                    transform=transform, into=into)  # fmt: skip
    assert parsed is not None  # a trusted layout is never refused
    return parsed


class _ParseRefusedError(SourceError):
    """DuckDB refused the file as laid out; the quick layout's caller tries the full scan.

    A transform's own refusal (no column fits the entity) is not one: scanning the file again
    would only end in the same error.
    """


def _empty(con: duckdb.DuckDBPyConnection, path: Path, table: str, into: str) -> ParsedFile:
    con.execute(f"{create('TABLE', into, table)} ({LINE_COLUMN} BIGINT)")
    return ParsedFile(path, "csv", table, [], 0, [], into)


def _parse(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    table: str,
    dialect: _Dialect,
    layout: _Layout,
    *,
    trusted: bool,
    transform: Transform | None,
    into: str,
) -> ParsedFile | None:
    """Read the file by `layout`; None (nothing kept) when an untrusted one proves wrong."""
    assert layout.header is not None
    columns = unique_names(layout.header)
    # DuckDB skips blank lines, except in a one-column file where they are NULL values.
    skipped = sorted({1, *layout.blanks}) if len(columns) > 1 else [1]
    names = scratch_name("rejects"), scratch_name("scans")
    parsed = rows_table(table)
    try:
        # DuckDB's parallel reader refuses quoted newlines when it pads short rows.
        rows = _load(con, path, parsed, dialect, columns, names,
                     parallel=not layout.shifts, transform=transform, into=into,
                     records=layout.records)  # fmt: skip
        found = _rejects(con, names[0])
        excluded = sorted({*skipped, *(ordinal for ordinal, _, _ in found)})
        if not trusted and rows + len(excluded) != layout.records:
            drop_table(con, parsed, into)  # a record spans lines: the layout needs the full scan
            return None
        unterminated = layout.unterminated
        if unterminated and unterminated[0] in excluded:
            unterminated = None  # DuckDB rejected that record itself
        usual = excluded == [1] and not layout.shifts and not unterminated
        _number(con, table, parsed, None if usual else layout.lines(excluded, rows), into)
        if unterminated:
            # DuckDB may keep what it read of the unterminated record as a padded row: drop it.
            ordinal, line = unterminated
            rows -= con.execute(
                f"DELETE FROM {quote_ident(into)}.{quote_ident(table)} WHERE {LINE_COLUMN} = {line}"
            ).fetchall()[0][0]
            found.append((ordinal, "unterminated quote: still open at the end of the file", None))
        if rows + len(excluded) + (1 if unterminated else 0) != layout.records:
            logger.warning(
                "%s: DuckDB and Python split records differently; _line may be off", path
            )
    except duckdb.Error as exc:
        drop_table(con, table, into)
        drop_table(con, parsed, into)
        raise _ParseRefusedError(f"could not read {path} as CSV: {exc}", path=str(path)) from exc
    except BaseException:
        drop_table(con, table, into)
        drop_table(con, parsed, into)
        raise
    finally:
        drop_table(con, names[0])
        drop_table(con, names[1])
    result = [
        StructuralReject(
            layout.physical(ordinal), reason, clip(text.lstrip("\r\n") if text else text)
        )
        for ordinal, reason, text in found
    ]
    return ParsedFile(path, "csv", table, columns, int(rows), result, into)
