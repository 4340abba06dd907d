"""XML records written with attributes: their attributes are their fields, as child elements are.

A record in attribute form (`<concert concert_id="C1" .../>`) reads into the same columns as one
written with child elements, the two forms mix within a record, a child element wins over an
attribute of the same name, and a prefixed attribute is read by its local name. Through
`ingest_files` on a copy of the small warehouse, attribute-form concerts are stored, not
quarantined as missing every field.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from core.settings import Settings
from pipelines.ingest import ingest_files
from pipelines.sources.files import read_file
from tests.conftest import query_warehouse
from tests.pipelines.sources.conftest import rows, write

FIELDS = ["concert_id", "artist_id", "venue_id", "event_date", "status"]


def test_attribute_form_records_share_the_child_element_columns(tmp_path: Path, con) -> None:
    text = """<?xml version="1.0" encoding="UTF-8"?>
<concerts>
  <concert><concert_id>C1</concert_id><artist_id>A1</artist_id><venue_id>V1</venue_id>
    <event_date>2027-05-01</event_date><status>scheduled</status></concert>
  <concert concert_id="C2" artist_id="A2" venue_id="V2" event_date="2027-05-02"
    status="scheduled"/>
</concerts>
"""
    parsed = read_file(con, write(tmp_path / "c.xml", text), table="t")

    assert parsed.columns == FIELDS
    names = [*FIELDS, "_line"]
    assert rows(con, parsed) == [
        dict(zip(names, ["C1", "A1", "V1", "2027-05-01", "scheduled", 3], strict=True)),
        dict(zip(names, ["C2", "A2", "V2", "2027-05-02", "scheduled", 5], strict=True)),
    ]


def test_attributes_and_child_elements_mix_and_the_child_element_wins(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    text = """<concerts>
<concert concert_id="C1" status="scheduled"><artist_id>A1</artist_id><venue_id>V1</venue_id>
</concert>
<concert concert_id="C-attr" artist_id="A-attr"><concert_id>C2</concert_id><venue_id>V2</venue_id>
</concert>
<concert concert_id="C3"><artist_id>A3</artist_id><artist_id>A4</artist_id></concert>
</concerts>
"""
    parsed = read_file(con, write(tmp_path / "m.xml", text), table="t")

    assert parsed.columns == ["concert_id", "status", "artist_id", "venue_id"]
    mixed, conflict, repeated = rows(con, parsed)
    assert mixed == {
        "concert_id": "C1",
        "status": "scheduled",
        "artist_id": "A1",
        "venue_id": "V1",
        "_line": 2,
    }
    # concert_id given both ways: the child element's text; artist_id only as an attribute: kept
    assert conflict == {
        "concert_id": "C2",
        "status": None,
        "artist_id": "A-attr",
        "venue_id": "V2",
        "_line": 4,
    }
    assert repeated["artist_id"] == '["A3", "A4"]'  # a repeated child element, as before


def test_prefixed_attributes_are_read_by_their_local_name(tmp_path: Path, con) -> None:
    text = """<venues xmlns:geo="http://example.com/geo" xmlns:x="http://example.com/x">
<venue xmlns:g="http://example.com/g" geo:lat="51.5" g:lon="-0.1" x:id="ignored" id="V1">
  <location geo:city="London"/>
</venue>
<venue x:id="V2" geo:id="V2-second"><geo:lat>48.8</geo:lat><lat>48.9</lat></venue>
</venues>
"""
    parsed = read_file(con, write(tmp_path / "n.xml", text), table="t")

    # <location .../> is a leaf: its (empty) text is a field too, as for any leaf element
    assert parsed.columns == ["lat", "lon", "id", "location.city", "location", "geo:lat"]
    first, second = rows(con, parsed)
    assert (first["lat"], first["lon"], first["id"], first["location.city"]) == (
        "51.5",
        "-0.1",
        "V1",  # the unprefixed attribute wins over x:id
        "London",
    )
    # the first prefixed one of a local name wins; an element keeps its prefix, and the
    # unprefixed child element <lat> wins over the attribute geo:lat
    assert (second["id"], second["geo:lat"], second["lat"]) == ("V2", "48.8", "48.9")


def test_attribute_form_concerts_ingest_with_their_values(
    small_settings: Settings, tmp_path: Path
) -> None:
    settings = small_settings.model_copy(update={"data_dir": tmp_path / "copy"})
    settings.data_dir.mkdir()
    settings.warehouse_file.write_bytes(small_settings.warehouse_file.read_bytes())
    (artist, venue), (other_artist, other_venue) = query_warehouse(
        settings,
        "SELECT a.artist_id, v.venue_id FROM (SELECT artist_id, row_number() OVER "
        "(ORDER BY artist_id) AS n FROM artists) a JOIN (SELECT venue_id, row_number() OVER "
        "(ORDER BY venue_id) AS n FROM venues) v USING (n) ORDER BY n LIMIT 2",
    )
    path = write(
        tmp_path / "concerts.xml",
        f"""<?xml version="1.0" encoding="UTF-8"?>
<concerts xmlns:e="http://example.com/encore">
  <concert concert_id="X90005" artist_id="{artist}" venue_id="{venue}"
    event_date="2027-05-01" status="scheduled"/>
  <concert e:concert_id="X90006" status="scheduled">
    <artist_id>{other_artist}</artist_id><venue_id>{other_venue}</venue_id>
    <event_date>2027-05-02</event_date></concert>
  <concert concert_id="X-attribute" artist_id="{artist}"><concert_id>X90007</concert_id>
    <venue_id>{venue}</venue_id><event_date>2027-05-03</event_date><status>scheduled</status>
  </concert>
</concerts>
""",
    )

    [outcome] = ingest_files(settings, [path], entity="concerts")

    assert outcome.status == "succeeded", outcome.message
    assert outcome.run is not None
    assert (outcome.run.records_in, outcome.run.accepted, outcome.run.quarantined) == (3, 3, 0)
    stored = query_warehouse(
        settings,
        "SELECT concert_id, artist_id, venue_id, CAST(event_date AS VARCHAR), status "
        "FROM concerts WHERE concert_id LIKE 'X%' ORDER BY 1",
    )
    assert stored == [
        ("X90005", artist, venue, "2027-05-01", "scheduled"),
        ("X90006", other_artist, other_venue, "2027-05-02", "scheduled"),
        ("X90007", artist, venue, "2027-05-03", "scheduled"),
    ]
