"""XML files into DuckDB: attack files refused without expansion, records flattened with lines."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pytest

from core.errors import SourceError
from pipelines.sources.files import read_file
from tests.pipelines.sources.conftest import rows, write

ATTACKS = [
    "xmlbomb.xml",
    "xmlbomb2.xml",
    "quadratic.xml",
    "cyclic.xml",
    "external.xml",
    "external_file.xml",
    "dtd.xml",
    "dtd_element.xml",
]


@pytest.mark.timeout(10)
@pytest.mark.parametrize("name", ATTACKS)
def test_attack_file_is_refused_quickly_without_expanding(
    shared_data: Path, con: duckdb.DuckDBPyConnection, name: str
) -> None:
    path = shared_data / "xml-attack-samples-defusedxml" / name
    # CPU time, not wall time: an expansion would burn CPU, and a busy machine only adds waiting
    started = time.process_time()

    with pytest.raises(SourceError) as refused:
        read_file(con, path, table="t")

    assert str(refused.value) == f"XML with a DTD / entity declarations is refused: {path}"
    assert time.process_time() - started < 1.0
    assert con.execute("SELECT count(*) FROM duckdb_tables()").fetchall() == [(0,)]


def test_every_attack_sample_is_covered(shared_data: Path) -> None:
    folder = shared_data / "xml-attack-samples-defusedxml"
    benign = {"simple.xml", "simple-ns.xml"}

    assert {p.name for p in folder.glob("*.xml")} - benign == set(ATTACKS)


@pytest.mark.parametrize("name", ["simple.xml", "simple-ns.xml"])
def test_benign_samples_parse(shared_data: Path, con, name: str) -> None:
    parsed = read_file(con, shared_data / "xml-attack-samples-defusedxml" / name, table="t")

    first = 3 if name == "simple.xml" else 4
    assert parsed.columns == ["key", "element"]
    assert rows(con, parsed) == [
        {"key": "value", "element": "text", "_line": first},
        {"key": None, "element": "text", "_line": first + 1},
        {"key": None, "element": None, "_line": first + 2},
    ]


def test_schema_include_is_read_as_plain_xml_without_fetching(shared_data: Path, con) -> None:
    path = shared_data / "xml-attack-samples-defusedxml" / "schema-include.xsd"

    parsed = read_file(con, path, table="t", fmt="xml")

    assert "schemaLocation" in parsed.columns


def test_records_flatten_attributes_children_and_nesting(tmp_path: Path, con) -> None:
    text = """<?xml version="1.0" encoding="UTF-8"?>
<venues source="test">
  <venue id="1">
    <name>Wembley Stadium</name>
    <location lat="51.556">
      <city>London</city>
      <country> UK </country>
    </location>
    <genre>rock</genre><genre>pop</genre>
    <notes/>
  </venue>
  <!-- a comment between records -->
  <venue id="2">Accor <b>Arena</b></venue>
</venues>
"""
    parsed = read_file(con, write(tmp_path / "v.xml", text), table="t")

    assert parsed.columns == [
        "id",
        "name",
        "location.lat",
        "location.city",
        "location.country",
        "genre",
        "notes",
        "b",
        "venue",
    ]
    first, second = rows(con, parsed)
    assert first == {
        "id": "1",
        "name": "Wembley Stadium",
        "location.lat": "51.556",
        "location.city": "London",
        "location.country": " UK ",
        "genre": '["rock", "pop"]',
        "notes": "",
        "b": None,
        "venue": None,
        "_line": 3,
    }
    assert (second["id"], second["venue"], second["b"], second["_line"]) == (
        "2",
        "Accor ",
        "Arena",
        13,
    )


def test_malformed_xml_raises_with_its_line(tmp_path: Path, con) -> None:
    text = "<venues>\n<venue><name>O2</venue>\n</venues>"

    with pytest.raises(SourceError, match=r"not well-formed XML: .*line 2"):
        read_file(con, write(tmp_path / "m.xml", text), table="t")
    assert con.execute("SELECT count(*) FROM duckdb_tables()").fetchall() == [(0,)]


def test_undeclared_entity_is_refused(tmp_path: Path, con) -> None:
    with pytest.raises(SourceError, match="not well-formed"):
        read_file(con, write(tmp_path / "e.xml", "<a><b>&ent;</b></a>"), table="t")


@pytest.mark.slow
def test_large_xml_goes_through_several_batches(tmp_path: Path, con) -> None:
    path = tmp_path / "big.xml"
    with path.open("w") as file:
        file.write("<fans>\n")
        for i in range(120_000):
            file.write(f'<fan id="{i}"><name>Fan {i}</name></fan>\n')
        file.write("</fans>\n")

    parsed = read_file(con, path, table="fans")

    assert parsed.rows == 120_000
    mismatched = con.execute("SELECT count(*) FROM fans WHERE _line <> CAST(id AS BIGINT) + 2")
    assert mismatched.fetchall() == [(0,)]
