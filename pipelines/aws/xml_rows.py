"""XML raw files on Spark: the local reader's own record logic, run on the executors.

Glue 5.0's Spark 3.5 has no XML reader of its own (Glue's DynamicFrame one flattens otherwise),
so a file's bytes (`binaryFiles`: one file, one task) go through
`pipelines.sources.files_xml.parse_records` there, as `encore ingest` parses it: the same
records, column names (first seen first, unique without regard to case) and `_line`s. Any DTD is
refused before it is read, so entity expansion and external entities never happen; the task
then returns the refusal as data and the driver raises it as a SourceError naming the file.

The file is parsed twice, once for its columns (only they reach the driver) and once for its
rows, so no task holds more than the one file it reads; but it holds all of it, and its records:
`binaryFiles` hands Python the file's bytes whole, and `parse_records` pushes every record to a
sink before `rows_of` yields the first (a 26.5 MB file of 100k sales: 182 MB more at the peak,
300k sales in 79.5 MB: 353 MB). A task's memory therefore bounds the XML file size; split larger
files. Streaming would need both: the executor opening the object itself (boto3 for s3://, not
`binaryFiles`) and the ingest's SAX handler fed incrementally (`IncrementalParser.feed`, draining
records between chunks), which `pipelines.sources.files_xml` does not expose yet.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final

from core.errors import SourceError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

LINE: Final = "_line"
_REFUSED: Final = "XML with a DTD / entity declarations is refused"


class _Records:
    """A RecordSink that keeps records and their lines in memory (one file's, on one task)."""

    def __init__(self) -> None:
        self.records: list[tuple[Mapping[str, str | None], int | None]] = []

    def add(self, record: Mapping[str, str | None], line: int | None) -> None:
        self.records.append((record, line))


def _parse(data: bytes) -> tuple[list[tuple[Mapping[str, str | None], int | None]], str]:
    """The file's records, or no records and why it was refused."""
    from xml.sax import SAXParseException

    import defusedxml

    from pipelines.sources.files_xml import parse_records

    if data[:2] == b"\x1f\x8b":  # gzip, as the local reader decompresses it
        data = gzip.decompress(data)
    sink = _Records()
    try:
        parse_records(io.BytesIO(data), sink)
    except defusedxml.DefusedXmlException as exc:
        return [], f"{_REFUSED} ({type(exc).__name__})"
    except SAXParseException as exc:
        return [], f"not well-formed XML: {exc.getMessage()} (line {exc.getLineNumber()})"
    return sink.records, ""


def columns_of(data: bytes) -> tuple[dict[str, str], str]:
    """Field key -> column name, in first-seen order as the local TableWriter names them; or
    no columns and the reason the file was refused."""
    from pipelines.sources.files_common import ColumnNames
    from pipelines.sources.files_xml import display_name

    records, refused = _parse(data)
    names = ColumnNames()
    columns: dict[str, str] = {}
    for record, _ in records:
        for key in record:
            if key not in columns:
                columns[key] = names.add(display_name(key))
    return columns, refused


def rows_of(data: bytes, keys: list[str]) -> Iterator[tuple[Any, ...]]:
    """The file's records as tuples of `keys`' values, then the line."""
    records, _ = _parse(data)
    for record, line in records:
        yield (*(record.get(key) for key in keys), line)


def read_xml(spark: SparkSession, uri: str) -> DataFrame:
    """One raw XML file as text columns plus `_line`, as `encore ingest` reads it."""
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    files = spark.sparkContext.binaryFiles(uri)
    found = files.map(lambda pair: columns_of(pair[1])).collect()
    if len(found) != 1:
        raise SourceError(f"{uri}: expected one XML file, found {len(found)}", uri=uri)
    [(columns, refused)] = found
    if refused:
        message = f"{_REFUSED}: {uri}" if refused.startswith(_REFUSED) else f"{uri}: {refused}"
        raise SourceError(message, uri=uri, reason=refused)
    keys = list(columns)
    rows = files.flatMap(lambda pair: rows_of(pair[1], keys))
    fields = [StructField(columns[key], StringType()) for key in keys]
    return spark.createDataFrame(rows, StructType([*fields, StructField(LINE, LongType())]))
