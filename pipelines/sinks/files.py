"""Streaming file writers: CSV, JSON, XML and Parquet, one chunk in memory at a time.

Every file is written under `<final>.part` and renamed when `close()` succeeds, so a killed run
never leaves a truncated file under a name that looks complete.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import IO, Final, Protocol

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from core.errors import EncoreError
from pipelines.sinks import FILE_FORMATS as FILE_FORMATS
from pipelines.sinks import FileFormat as FileFormat

logger = logging.getLogger(__name__)

PART_SUFFIX: Final = ".part"

ROW_ELEMENTS: Final[dict[str, str]] = {
    "artists": "artist",
    "venues": "venue",
    "fans": "fan",
    "concerts": "concert",
    "ticket_sales": "ticket_sale",
    "concert_results": "concert_result",
}
"""XML row element per table; any other table's rows are `<record>`."""

# JSON and XML render rows in slices, so a 1M-row chunk's text is never all in memory at once.
_RENDER_ROWS: Final = 131_072
_XML_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
# XML 1.0 forbids these control characters even when escaped; they are dropped.
_XML_INVALID = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"
_XML_SPECIAL = r"[\x00-\x08\x0b\x0c\x0e-\x1f&<>]"


@dataclass(frozen=True)
class WrittenFile:
    """A finished file: where it is, how many data rows and how many bytes it holds."""

    path: Path
    rows: int
    bytes: int


class _Writer(Protocol):
    def write(self, chunk: pa.Table) -> None: ...

    def finish(self) -> None: ...


class FileSink:
    """Append `(name, chunk)` pairs to `out_dir/<name>.<ext>` files in one format."""

    def __init__(self, out_dir: Path, fmt: FileFormat) -> None:
        if fmt not in FILE_FORMATS:
            raise EncoreError(f"unknown file format {fmt!r}; expected one of {FILE_FORMATS}")
        self.out_dir = Path(out_dir)
        self.fmt: FileFormat = fmt
        self._writers: dict[str, _Writer] = {}
        self._paths: dict[str, Path] = {}
        self._rows: dict[str, int] = {}
        self._written: dict[str, WrittenFile] = {}
        self._closed = False

    def write(self, name: str, chunk: pa.Table) -> None:
        """Append `chunk` to the file for `name` ("a/b" writes `out_dir/a/b.<ext>`)."""
        if self._closed:
            raise EncoreError(f"cannot write {name!r}: the sink is already closed")
        final = self._final_path(name)
        name = final.relative_to(self.out_dir).with_suffix("").as_posix()  # "a//b" is "a/b"
        writer = self._writers.get(name)
        if writer is None:
            final.parent.mkdir(parents=True, exist_ok=True)
            writer = self._open(final.with_name(final.name + PART_SUFFIX), name, chunk.schema)
            self._writers[name], self._paths[name], self._rows[name] = writer, final, 0
            logger.debug("writing %s", final)
        writer.write(chunk)
        self._rows[name] += chunk.num_rows

    def close(self) -> dict[str, WrittenFile]:
        """Finish every file and move it to its final name; returns what was written, by name.

        Calling it again (or after the `with` block) returns the same result.
        """
        self._closed = True
        try:
            for name, writer in list(self._writers.items()):
                final = self._paths[name]
                writer.finish()
                del self._writers[name]
                final.with_name(final.name + PART_SUFFIX).replace(final)
                self._written[name] = WrittenFile(final, self._rows[name], final.stat().st_size)
                logger.debug("wrote %s (%d rows)", final, self._rows[name])
        except BaseException:
            self.abort()  # what could not be finished must not linger as .part files
            raise
        logger.info("wrote %d %s files to %s", len(self._written), self.fmt, self.out_dir)
        return dict(self._written)

    def abort(self) -> None:
        """Stop writing and delete the unfinished `.part` files; no final name is created."""
        self._closed = True
        for name, writer in self._writers.items():
            final = self._paths[name]
            try:
                writer.finish()
            except (OSError, pa.ArrowException):
                logger.warning("could not finish %s while aborting", final, exc_info=True)
        self._writers.clear()
        for name, final in self._paths.items():
            if name not in self._written:
                final.with_name(final.name + PART_SUFFIX).unlink(missing_ok=True)

    def __enter__(self) -> FileSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def _final_path(self, name: str) -> Path:
        parts = PurePosixPath(name).parts
        if not parts or name.startswith("/") or any(p in {"", ".", ".."} for p in parts):
            raise EncoreError(f"file name {name!r} must be a relative path like 'crm/artists'")
        return self.out_dir.joinpath(*parts).with_name(f"{parts[-1]}.{self.fmt}")

    def _open(self, part: Path, name: str, schema: pa.Schema) -> _Writer:
        table = PurePosixPath(name).name
        if self.fmt == "csv":
            return _ArrowWriter(pa_csv.CSVWriter(str(part), schema), schema)
        if self.fmt == "parquet":
            return _ArrowWriter(pq.ParquetWriter(str(part), schema, compression="zstd"), schema)
        if self.fmt == "json":
            return _JsonWriter(part)
        return _XmlWriter(part, table, ROW_ELEMENTS.get(table, "record"))


class _ArrowWriter:
    """CSV and Parquet: pyarrow's own writers, which need every chunk in the first one's schema."""

    def __init__(self, writer: pa_csv.CSVWriter | pq.ParquetWriter, schema: pa.Schema) -> None:
        self._writer = writer
        self._schema = schema

    def write(self, chunk: pa.Table) -> None:
        self._writer.write_table(_conform(chunk, self._schema))

    def finish(self) -> None:
        self._writer.close()


class _JsonWriter:
    """A JSON array of objects: `[` on open, rows with a leading comma, `]` on finish."""

    def __init__(self, part: Path) -> None:
        self._fh: IO[bytes] = part.open("wb", buffering=1 << 20)
        self._fh.write(b"[")
        self._first = True
        self._db = duckdb.connect()

    def write(self, chunk: pa.Table) -> None:
        for start in range(0, chunk.num_rows, _RENDER_ROWS):
            piece = _iso_timestamps(chunk.slice(start, _RENDER_ROWS))
            # DuckDB's to_json renders a batch in C++: dates as ISO strings, decimals as numbers.
            self._db.register("piece", piece)
            objects = self._db.sql("SELECT to_json(p) AS j FROM piece p").to_arrow_table()
            self._db.unregister("piece")
            for array in objects.column(0).chunks:
                lines = pc.binary_join_element_wise(",\n", array, "")
                if self._first and len(lines) > 0:
                    # the very first row of the file has no comma before it
                    self._fh.write(b"\n")
                    self._fh.write(_joined_bytes(lines.slice(0, 1))[2:])
                    lines = lines.slice(1)
                    self._first = False
                self._fh.write(_joined_bytes(lines))

    def finish(self) -> None:
        self._fh.write(b"]\n" if self._first else b"\n]\n")
        self._fh.close()
        self._db.close()


class _XmlWriter:
    """`<table><row><column>value</column>…</row>…</table>`; null columns are left out."""

    def __init__(self, part: Path, table: str, row_element: str) -> None:
        for tag in (table, row_element):
            _check_xml_name(tag)
        self._fh: IO[bytes] = part.open("wb", buffering=1 << 20)
        self._fh.write(f'<?xml version="1.0" encoding="UTF-8"?>\n<{table}>\n'.encode())
        self._table = table
        self._row = row_element

    def write(self, chunk: pa.Table) -> None:
        for column in chunk.column_names:
            _check_xml_name(column)
        for start in range(0, chunk.num_rows, _RENDER_ROWS):
            piece = _iso_timestamps(chunk.slice(start, _RENDER_ROWS))
            parts: list[pa.ChunkedArray | str] = [f"<{self._row}>"]
            for name in piece.column_names:
                text = _xml_text(piece.column(name))
                if text.null_count:
                    # a null value leaves its element out: the whole element becomes null, skipped
                    parts.append(pc.binary_join_element_wise(f"<{name}>", text, f"</{name}>", ""))
                else:
                    parts.extend((f"<{name}>", text, f"</{name}>"))
            parts.append(f"</{self._row}>\n")
            rows = pc.binary_join_element_wise(*parts, "", null_handling="skip")
            for array in rows.chunks:
                self._fh.write(_joined_bytes(array))

    def finish(self) -> None:
        self._fh.write(f"</{self._table}>\n".encode())
        self._fh.close()


def _conform(chunk: pa.Table, schema: pa.Schema) -> pa.Table:
    if chunk.schema.equals(schema):
        return chunk
    try:
        return chunk.select(schema.names).cast(schema)
    except (KeyError, pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise EncoreError(
            f"chunk schema {chunk.schema} does not match the file's first chunk {schema}",
            schema=str(chunk.schema),
        ) from exc


def _iso_timestamps(piece: pa.Table) -> pa.Table:
    """Timestamps as ISO-8601 strings with a `T`, which JSON and XML readers expect."""
    for i, field in enumerate(piece.schema):
        if pa.types.is_timestamp(field.type):
            text = pc.replace_substring(
                piece.column(i).cast(pa.string()), " ", "T", max_replacements=1
            )
            piece = piece.set_column(i, field.name, text)
    return piece


def _xml_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    text = column.cast(pa.string())
    # Numbers and dates never need escaping; one scan spares clean text columns the rewrites.
    if (
        not pa.types.is_string(column.type)
        or not pc.any(pc.match_substring_regex(text, _XML_SPECIAL)).as_py()
    ):
        return text
    text = pc.replace_substring_regex(text, _XML_INVALID, "")
    for raw, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        text = pc.replace_substring(text, raw, entity)
    return text


def _check_xml_name(name: str) -> None:
    if not _XML_NAME.match(name) or name.lower().startswith("xml"):
        raise EncoreError(f"{name!r} cannot be an XML element name; rename the table or column")


def _joined_bytes(array: pa.Array) -> memoryview:
    """The UTF-8 bytes of a null-free string array, concatenated, without copying."""
    offset_type = np.int64 if pa.types.is_large_string(array.type) else np.int32
    _, offsets_buf, data = array.buffers()
    if data is None:
        return memoryview(b"")
    offsets = np.frombuffer(
        offsets_buf,
        dtype=offset_type,
        count=len(array) + 1,
        offset=array.offset * np.dtype(offset_type).itemsize,
    )
    return memoryview(data)[int(offsets[0]) : int(offsets[-1])]
