"""Places typed in one case are stored in one case (requirement 1.3, audit 9 D7): "ny" is NY,
"new york" and "AUSTIN" are New York and Austin; what was typed in mixed case stays as typed."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb

from core.settings import Settings
from pipelines.ingest import ingest_files
from pipelines.transforms.normalize import city_display, state_code
from tests.conftest import query_warehouse

VENUES = [
    ["venue_id", "venue_name", "city", "state", "country", "capacity", "type"],
    ["v1", "madison square garden", "new york", "ny", "us", "19500", "arena"],
    ["v2", "MOODY CENTER", "AUSTIN", "tx", "US", "15000", "arena"],
    ["v3", "The Lantern Room", "New york", "NY", "us", "650", "club"],
    ["v4", "Payne Arena", "mcallen", "Texas", "US", "6800", "arena"],
    ["v5", "Bowl of Stars", "STRATFORD-UPON-AVON", "england", "GB", "900", "theater"],
    ["v6", "Arena Rio", "rio de janeiro", "rj", "BR", "14000", "arena"],
    ["v7", "Hall NYC", "NYC", "New York", "USA", "1200", "club"],
]  # fmt: skip


def _csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def test_codes_are_upper_case_and_cities_typed_in_one_case_are_title_case(
    settings: Settings, tmp_path: Path
) -> None:
    [outcome] = ingest_files(settings, [_csv(tmp_path / "venues.csv", VENUES)])
    assert outcome.status == "succeeded", outcome.message
    assert outcome.run is not None and outcome.run.quarantined == 0
    rows = query_warehouse(settings, "SELECT venue_id, name, city, state, country FROM venues")
    assert sorted(rows) == [
        ("v1", "madison square garden", "New York", "NY", "US"),
        ("v2", "MOODY CENTER", "Austin", "TX", "US"),
        ("v3", "The Lantern Room", "New york", "NY", "US"),  # mixed case: as typed
        ("v4", "Payne Arena", "McAllen", "TX", "US"),
        ("v5", "Bowl of Stars", "Stratford-upon-Avon", "England", "GB"),
        ("v6", "Arena Rio", "Rio de Janeiro", "RJ", "BR"),
        ("v7", "Hall NYC", "New York", "NY", "US"),
    ]
    # one group per state, whatever case it was typed in
    states = query_warehouse(settings, "SELECT state, count(*) FROM venues GROUP BY 1 ORDER BY 1")
    assert states == [("England", 1), ("NY", 3), ("RJ", 1), ("TX", 2)]


def test_place_case_keeps_deliberate_spellings() -> None:
    typed = ["McAllen", "o'fallon", "LA CROSSE", "winston-salem", "ÉVRY", "münchen", "St. louis",
             "de kalb", "  san   antonio ", "12", "DeKalb"]  # fmt: skip
    con = duckdb.connect()
    stored = [
        con.execute(
            f"SELECT {city_display('x')}, {state_code('x')} FROM (SELECT ? AS x)", [t]
        ).fetchone()
        for t in typed
    ]
    assert [city for city, _ in stored] == [
        "McAllen", "O'Fallon", "La Crosse", "Winston-Salem", "Évry", "München", "St. louis",
        "De Kalb", "San Antonio", "12", "DeKalb",
    ]  # fmt: skip
    assert con.execute(f"SELECT {state_code('x')} FROM (SELECT 'qld ' AS x)").fetchall() == [
        ("QLD",)
    ]
    assert con.execute(f"SELECT {state_code('x')} FROM (SELECT NULL AS x)").fetchall() == [(None,)]
