"""XML files into a TEMP table of text columns, streamed through defusedxml's SAX parser.

Records are the children of the root element (`<venues><venue>…</venue></venues>`). A record's
fields are:

- its attributes, by name (`<venue id="7">` → `id`);
- its child elements' text, by element name; deeper elements are flattened with dotted names
  (`<location><city>` → `location.city`) and their attributes likewise (`location.lat`);
- its own non-blank text, in a column named after the record element (`<venue>Wembley</venue>` →
  `venue`).

A field repeated within one record (`<genre>rock</genre><genre>pop</genre>`) becomes a JSON array
of its texts. Blank text between child elements (indentation) is ignored, as are the root's
attributes, text outside records, comments, processing instructions and `xmlns` declarations.
Element and attribute names are kept as written, prefixes included (`geo:lat`).

Any DTD is refused before it is read, so entity expansion (billion laughs, quadratic blowup) and
external entities or DTDs are never processed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Final, Protocol
from xml.sax import SAXParseException
from xml.sax.handler import ContentHandler
from xml.sax.xmlreader import AttributesImpl, Locator

import defusedxml
import defusedxml.sax
import duckdb

from core.errors import SourceError
from pipelines.sources.files_common import ParsedFile, TableWriter, open_binary

_ATTR: Final = "@"
"""Marks attribute keys: `@` cannot occur in XML names, so attribute and element keys differ."""


def display_name(key: str) -> str:
    """The column name of a record's field key (attribute keys lose their marker)."""
    return key.replace(_ATTR, "")


class RecordSink(Protocol):
    """Where records go: a TableWriter here, a list on a Spark executor (pipelines.aws)."""

    def add(self, record: Mapping[str, str | None], line: int | None) -> None: ...


class _Records(ContentHandler):
    """Turns SAX events into flat records handed to a RecordSink."""

    def __init__(self, writer: RecordSink) -> None:
        super().__init__()
        self._writer = writer
        self._locator: Locator | None = None
        self._depth = 0
        self._path: list[str] = []
        self._texts: list[list[str]] = []
        self._has_children: list[bool] = []
        self._fields: dict[str, list[str]] = {}
        self._line: int | None = None

    def setDocumentLocator(self, locator: Locator) -> None:  # noqa: N802 (SAX names them)
        self._locator = locator

    def _put(self, key: str, value: str) -> None:
        self._fields.setdefault(key, []).append(value)

    def startElement(self, name: str, attrs: AttributesImpl) -> None:  # noqa: N802 (SAX names them)
        self._depth += 1
        if self._depth == 1:
            return
        if self._has_children:
            self._has_children[-1] = True
        if self._depth == 2:
            self._fields = {}
            self._line = self._locator.getLineNumber() if self._locator else None
        else:
            self._path.append(name)
        prefix = ".".join(self._path) + "." if self._path else ""
        for attr in attrs.getNames():
            if attr != "xmlns" and not attr.startswith("xmlns:"):
                self._put(f"{prefix}{_ATTR}{attr}", attrs.getValue(attr))
        self._texts.append([])
        self._has_children.append(False)

    def characters(self, content: str) -> None:
        if self._texts:
            self._texts[-1].append(content)

    def endElement(self, name: str) -> None:  # noqa: N802 (SAX names them)
        self._depth -= 1
        if self._depth == 0:
            return
        text = "".join(self._texts.pop())
        had_children = self._has_children.pop()
        if self._depth == 1:
            if text.strip():
                self._put(name, text)
            self._emit()
            return
        # A leaf's text is data even when blank; around child elements it is only indentation.
        if not had_children or text.strip():
            self._put(".".join(self._path), text)
        self._path.pop()

    def _emit(self) -> None:
        record = {
            key: values[0] if len(values) == 1 else json.dumps(values, ensure_ascii=False)
            for key, values in self._fields.items()
        }
        self._writer.add(record, self._line)


def parse_records(file: IO[bytes], sink: RecordSink) -> None:
    """Hand every record of the XML in `file` to `sink`; a DTD raises DefusedXmlException."""
    defusedxml.sax.parse(
        file, _Records(sink), forbid_dtd=True, forbid_entities=True, forbid_external=True
    )


def read_xml(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> ParsedFile:
    """Read an XML file whose root element's children are the records."""
    writer = TableWriter(con, table, display=display_name)
    try:
        with open_binary(path) as file:
            parse_records(file, writer)
        columns = writer.finish()
    except defusedxml.DefusedXmlException as exc:
        writer.discard()
        raise SourceError(
            f"XML with a DTD / entity declarations is refused: {path}",
            path=str(path),
            reason=type(exc).__name__,
        ) from exc
    except SAXParseException as exc:
        writer.discard()
        line = exc.getLineNumber()
        raise SourceError(
            f"{path} is not well-formed XML: {exc.getMessage()} (line {line})",
            path=str(path),
            line=line,
        ) from exc
    except BaseException:
        writer.discard()
        raise
    return ParsedFile(path, "xml", table, columns, writer.rows, [])
