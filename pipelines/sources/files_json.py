"""JSON and JSON Lines files into a TEMP table of text columns, streamed with a strict decoder.

Python's `json` decoder (C-accelerated) is used instead of DuckDB's JSON reader because DuckDB is
lenient where this reader must not be: it accepts unclosed arrays, trailing commas and `NaN`.
A JSON document is decoded one top-level array element at a time from a bounded buffer; a JSON
Lines file one line at a time, so each bad line becomes a reject with its exact line number.

Values become text: strings as they are, numbers with their original spelling, `true`/`false`,
`null` as NULL, and nested objects and arrays as compact JSON text.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from json.encoder import encode_basestring
from pathlib import Path
from typing import IO, Any, Final

import duckdb

from core.errors import SourceError
from pipelines.sources.files_common import (
    ParsedFile,
    StructuralReject,
    TableWriter,
    clip,
    open_binary,
)

CHUNK_CHARS: Final = 1 << 20
MAX_VALUE_CHARS: Final = 64 << 20
"""A single top-level value (or JSON Lines line) larger than this is refused, bounding memory."""
_TAIL: Final = 8
"""A decode error this close to the end of the buffer may only mean the value continues."""
_WS: Final = re.compile(r"[ \t\n\r]*")


class _Number(str):
    """A JSON number kept as the text it was written as (`1.50` stays `1.50`, huge ones too)."""


class _NotJsonError(ValueError):
    """`NaN` or `Infinity`: Python accepts them, JSON does not."""


def _refuse_constant(name: str) -> Any:
    raise _NotJsonError(f"{name} is not JSON")


_DECODER: Final = json.JSONDecoder(
    parse_float=_Number, parse_int=_Number, parse_constant=_refuse_constant
)


_quote: Final = encode_basestring
_LITERALS: Final = {True: "true", False: "false", None: "null"}


def _dump(value: Any) -> str:
    """Compact JSON text for a decoded value, numbers in their original spelling."""
    kind = type(value)
    if kind is _Number:
        return str(value)
    if kind is str:
        return _quote(value)
    if kind is dict:
        return "{" + ",".join(_quote(k) + ":" + _dump(v) for k, v in value.items()) + "}"
    if kind is list:
        return "[" + ",".join([_dump(v) for v in value]) + "]"
    return _LITERALS[value]


def _record(value: dict[str, Any]) -> dict[str, str | None]:
    """A decoded object as text fields: see the module docstring."""
    record: dict[str, str | None] = {}
    for key, item in value.items():
        kind = type(item)
        if kind is str or kind is _Number or item is None:
            record[key] = item  # a _Number is already the text it was written as
        elif kind is bool:
            record[key] = "true" if item else "false"
        else:
            record[key] = _dump(item)
    return record


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, _Number):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "null" if value is None else "a boolean"


class _Document:
    """Top-level values of one JSON document, decoded from a bounded sliding buffer."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._file = open_binary(path)
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._buf = ""
        self._pos = 0
        self._line = 1
        self._eof = False
        self._bytes = 0

    def close(self) -> None:
        self._file.close()

    def _fail(self, what: str) -> SourceError:
        return SourceError(
            f"{self._path} is not valid JSON: {what} (line {self._line})",
            path=str(self._path),
            line=self._line,
        )

    def _fill(self, want: int = 0) -> bool:
        """Read `want` (default a chunk) more bytes unless the file ended; False at end of file."""
        if self._eof:
            return False
        raw = self._file.read(want or CHUNK_CHARS)
        try:
            text = self._decoder.decode(raw, final=not raw)
        except UnicodeDecodeError as exc:
            raise self._fail(f"invalid UTF-8 near byte {self._bytes + exc.start}") from exc
        self._bytes += len(raw)
        self._buf = self._buf[self._pos :] + text
        self._pos = 0
        if not raw:
            self._eof = True
        return True

    def _advance(self, end: int) -> None:
        self._line += self._buf.count("\n", self._pos, end)
        self._pos = end

    def _peek(self) -> str:
        """The next non-whitespace character ('' at end of file), without consuming it."""
        while True:
            match = _WS.match(self._buf, self._pos)
            assert match is not None  # the pattern also matches the empty string
            self._advance(match.end())
            if self._pos < len(self._buf) or not self._fill():
                return self._buf[self._pos : self._pos + 1]

    def _expect(self, chars: str) -> str:
        char = self._peek()
        if char == "" or char not in chars:
            found = repr(char) if char else "end of file"
            raise self._fail(f"expected {' or '.join(repr(c) for c in chars)}, found {found}")
        self._advance(self._pos + 1)
        return char

    def _value(self) -> tuple[int, Any, str]:
        """Decode the value at the cursor: (its line, the value, the start of its text)."""
        self._peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as exc:
                truncated = (
                    exc.msg.startswith("Unterminated string") or exc.pos >= len(self._buf) - _TAIL
                )
                if truncated and self._grow():
                    continue
                raise self._fail(exc.msg) from exc
            except _NotJsonError as exc:
                raise self._fail(str(exc)) from exc
            except RecursionError as exc:
                raise self._fail("nested too deeply to read") from exc
            # A number at the very end of the buffer may continue in the next chunk.
            if end == len(self._buf) and self._grow():
                continue
            line = self._line
            # Only rejects need their text; slicing it for every record would copy a lot.
            head = (
                ""
                if isinstance(value, dict)
                else self._buf[self._pos : min(end, self._pos + 2_000)]
            )
            self._advance(end)
            return line, value, head

    def _grow(self) -> bool:
        """Read more so the value at the cursor can complete, doubling to stay linear."""
        pending = len(self._buf) - self._pos
        if pending > MAX_VALUE_CHARS:
            raise self._fail(f"a single value is larger than {MAX_VALUE_CHARS} characters")
        return self._fill(max(CHUNK_CHARS, pending))

    def values(self) -> Iterator[tuple[int, Any, str]]:
        """The elements of a top-level array, or the one top-level value."""
        self._fill()
        if self._buf.startswith("\ufeff"):
            self._pos = 1
        first = self._peek()
        if first == "":
            raise self._fail("the document is empty")
        if first == "[":
            self._advance(self._pos + 1)
            if self._peek() == "]":
                self._advance(self._pos + 1)
            else:
                while True:
                    yield self._value()
                    if self._expect(",]") == "]":
                        break
        else:
            yield self._value()
        if self._peek() != "":
            raise self._fail("unexpected data after the top-level value")


def _add(writer: TableWriter, value: Any, line: int) -> str | None:
    """Queue `value` as a record, or return why it cannot be one."""
    if not isinstance(value, dict):
        return f"not an object: {_kind(value)}"
    try:
        writer.add(_record(value), line)
    except RecursionError:
        return "nested too deeply to convert to text"
    return None


def _skip_rest_of_line(file: IO[bytes]) -> None:
    while (rest := file.readline(MAX_VALUE_CHARS)) and not rest.endswith(b"\n"):
        pass


def read_json(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> ParsedFile:
    """Read a JSON document: an array of objects (one record each) or a single object."""
    writer = TableWriter(con, table)
    rejects: list[StructuralReject] = []
    document = _Document(path)
    try:
        for line, value, head in document.values():
            reject = _add(writer, value, line)
            if reject:
                rejects.append(StructuralReject(line, reject, head))
        columns = writer.finish()
    except BaseException:
        writer.discard()
        raise
    finally:
        document.close()
    return ParsedFile(path, "json", table, columns, writer.rows, rejects)


def _parse_line(text: str) -> Any:
    """Decode one JSON Lines line; raises ValueError with a reason."""
    start = _WS.match(text)
    assert start is not None
    try:
        value, end = _DECODER.raw_decode(text, start.end())
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc.msg} (column {exc.colno})") from exc
    except _NotJsonError as exc:
        raise ValueError(f"not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise ValueError("not valid JSON: nested too deeply to read") from exc
    if text[end:].strip(" \t\r\n"):
        raise ValueError(f"not valid JSON: extra data after the value (column {end + 1})")
    return value


def read_jsonl(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> ParsedFile:
    """Read JSON Lines: one object per line; blank lines are skipped, bad lines rejected."""
    writer = TableWriter(con, table)
    rejects: list[StructuralReject] = []
    try:
        with open_binary(path) as file:
            number = 0
            while raw := file.readline(MAX_VALUE_CHARS):
                number += 1
                if len(raw) >= MAX_VALUE_CHARS and not raw.endswith(b"\n"):
                    _skip_rest_of_line(file)
                    head = raw[:2_000].decode("utf-8", "replace")
                    rejects.append(StructuralReject(number, "line longer than 64 MiB", head))
                    continue
                if number == 1:
                    raw = raw.removeprefix(codecs.BOM_UTF8)
                if not raw.strip():
                    continue
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    text = raw.decode("utf-8", "replace")
                    rejects.append(StructuralReject(number, "invalid UTF-8", clip(text)))
                    continue
                try:
                    value = _parse_line(text)
                except ValueError as exc:
                    rejects.append(StructuralReject(number, str(exc), clip(text.rstrip("\r\n"))))
                    continue
                reject = _add(writer, value, number)
                if reject:
                    rejects.append(StructuralReject(number, reject, clip(text.rstrip("\r\n"))))
        columns = writer.finish()
    except BaseException:
        writer.discard()
        raise
    return ParsedFile(path, "jsonl", table, columns, writer.rows, rejects)
