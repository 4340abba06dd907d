"""XML files into a TEMP table of text columns, streamed through defusedxml's SAX parser.

Records are the children of the root element (`<venues><venue>…</venue></venues>`). A record's
fields are:

- its attributes, by local name (`<venue id="7">` → `id`, `<venue geo:lat="51.5">` → `lat`), so a
  record written in attribute form (`<concert concert_id="C1" artist_id="A1"/>`) has the same
  columns as one written with child elements;
- its child elements' text, by element name; deeper elements are flattened with dotted names
  (`<location><city>` → `location.city`) and their attributes likewise (`location.lat`);
- its own non-blank text, in a column named after the record element (`<venue>Wembley</venue>` →
  `venue`).

Attributes and child elements may be mixed (`<concert id="C1"><artist_id>A1</artist_id></concert>`
gives both fields). When both name the same field (`<concert id="C1"><id>C2</id></concert>`), the
child element wins: its text is the field's value and the attribute is not kept. Within one
element an unprefixed attribute wins over prefixed ones of the same local name (`id` over
`x:id`), and of several prefixed ones the first wins.

A field repeated within one record (`<genre>rock</genre><genre>pop</genre>`) becomes a JSON array
of its texts. Blank text between child elements (indentation) is ignored, as are the root's
attributes, text outside records, comments, processing instructions and `xmlns` declarations.
Element names are kept as written, prefixes included (`<geo:lat>` → `geo:lat`).

Any DTD is refused before it is read, so entity expansion (billion laughs, quadratic blowup) and
external entities or DTDs are never processed. One record at a time is held in memory.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Protocol
from xml.sax import SAXParseException
from xml.sax.handler import ContentHandler
from xml.sax.xmlreader import AttributesImpl, Locator

import defusedxml
import defusedxml.sax
import duckdb

from core.errors import SourceError
from pipelines.sources.files_common import ParsedFile, TableWriter, open_binary


def _attributes(attrs: AttributesImpl) -> dict[str, str]:
    """An element's attributes by local name, `xmlns` declarations left out; an unprefixed name
    wins over prefixed ones of the same local name, else the first prefixed one does."""
    found: dict[str, str] = {}
    for name in attrs.getNames():
        if name == "xmlns" or name.startswith("xmlns:"):
            continue
        local = name.rpartition(":")[2]
        if ":" not in name or local not in found:
            found[local] = attrs.getValue(name)
    return found


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
        """Child elements' (and the record's own) texts by key."""
        self._attrs: dict[str, list[str]] = {}
        """Attribute values by key; a child element's text of the same key wins over them."""
        self._order: dict[str, None] = {}
        """Every key in first-seen order, so columns keep the file's order."""
        self._line: int | None = None

    def setDocumentLocator(self, locator: Locator) -> None:  # noqa: N802 (SAX names them)
        self._locator = locator

    def _put(self, key: str, value: str) -> None:
        self._order.setdefault(key)
        self._fields.setdefault(key, []).append(value)

    def _put_attribute(self, key: str, value: str) -> None:
        self._order.setdefault(key)
        self._attrs.setdefault(key, []).append(value)

    def startElement(self, name: str, attrs: AttributesImpl) -> None:  # noqa: N802 (SAX names them)
        self._depth += 1
        if self._depth == 1:
            return
        if self._has_children:
            self._has_children[-1] = True
        if self._depth == 2:
            self._fields, self._attrs, self._order = {}, {}, {}
            self._line = self._locator.getLineNumber() if self._locator else None
        else:
            self._path.append(name)
        prefix = ".".join(self._path) + "." if self._path else ""
        for local, value in _attributes(attrs).items():
            self._put_attribute(f"{prefix}{local}", value)
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
        record: dict[str, str | None] = {}
        for key in self._order:
            values = self._fields.get(key) or self._attrs[key]
            record[key] = values[0] if len(values) == 1 else json.dumps(values, ensure_ascii=False)
        self._writer.add(record, self._line)


def parse_records(file: IO[bytes], sink: RecordSink) -> None:
    """Hand every record of the XML in `file` to `sink`; a DTD raises DefusedXmlException."""
    defusedxml.sax.parse(
        file, _Records(sink), forbid_dtd=True, forbid_entities=True, forbid_external=True
    )


def read_xml(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> ParsedFile:
    """Read an XML file whose root element's children are the records."""
    writer = TableWriter(con, table)
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
