"""Dirty mode: two sources, realistic variants, malformed rows and a ground truth that is true."""

from __future__ import annotations

import csv
import difflib
import json
import re
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from core.errors import EncoreError, ValidationError
from core.schemas import (
    AGE_BANDS,
    CONCERT_STATUSES,
    ENTITY_SCHEMAS,
    PRICE_TIERS,
    SALES_CHANNELS,
    validate_record,
)
from pipelines.generate.dirty import make_dirty
from pipelines.sinks.files import FILE_FORMATS, FileSink

Chunk = tuple[str, pa.Table]
Row = dict[str, Any]

ARTISTS = [
    "The Rolling Stones", "Simon & Garfunkel", "Beyoncé", "Drake feat. Future", "Arctic Monkeys",
    "The Velvet Wolves", "Golden Harbor", "Emily Gray", "Walter Castro", "Sigur Rós",
    "Florence and the Machine", "The Crimson Echoes", "Mary Smith & the Owls", "Silent Satellites",
    "Electric Foxes Band", "The Johnson Brothers", "Nashville Ravens", "Indigo Sparrows",
]  # fmt: skip
ADJECTIVES = ["Scarlet", "Neon", "Hollow", "Midnight", "Paper", "Iron", "Lunar", "Wild"]
NOUNS = ["Lanterns", "Coyotes", "Rivers", "Comets", "Tigers", "Pilots", "Ghosts", "Orchids"]
VENUES = [
    ("The Orpheum Theatre", "theater"), ("Northwind Bank Arena", "arena"),
    ("St. Louis Civic Center", "arena"), ("Paramount Theater", "theater"),
    ("Halcyon Mobile Amphitheater", "amphitheater"), ("Majestic Club", "club"),
    ("Rialto Theatre", "theater"), ("Brightline Energy Center", "arena"),
    ("Lantern Room & Bar", "club"), ("Memorial Stadium", "stadium"), ("Riverside Park", "outdoor"),
]  # fmt: skip
CITIES = [
    ("New York", "NY", "US", 40.7128, -74.006), ("St. Louis", "MO", "US", 38.627, -90.1994),
    ("Montreal", "QC", "CA", 45.5017, -73.5673), ("Fort Worth", "TX", "US", 32.7555, -97.3308),
    ("Chicago", "IL", "US", 41.8781, -87.6298), ("Seattle", "WA", "US", 47.6062, -122.3321),
]  # fmt: skip
ENTITY_TABLES = ("artists", "venues", "concerts")
ID_COLUMNS = {"artists": "artist_id", "venues": "venue_id", "concerts": "concert_id"}
ID_COLUMNS |= {"fans": "fan_id", "ticket_sales": "sale_id", "concert_results": "concert_id"}
SCHEMA_VISIBLE = {
    "invalid_number", "out_of_range", "impossible_date", "missing_id", "unknown_enum",
    "amount_mismatch",
}  # fmt: skip


def clean_stream(money: str = "float", seed: int = 3) -> list[Chunk]:
    """A few dozen rows per table in the contract shape, ticket_sales in three chunks."""
    rng = np.random.default_rng(seed)
    cash = pa.float64() if money == "float" else pa.decimal128(10, 2)

    def price(values: list[float]) -> pa.Array:
        rounded = [round(v, 2) for v in values]
        return pa.array(
            rounded if money == "float" else [Decimal(f"{v:.2f}") for v in rounded], cash
        )

    names = ARTISTS + [f"{a} {n}" for a in ADJECTIVES for n in NOUNS][: 40 - len(ARTISTS)]
    artists = pa.table(
        {
            "artist_id": pa.array([f"A{i:03d}" for i in range(1, 41)], pa.large_string()),
            "name": pa.array(names, pa.large_string()),
            "genre": rng.choice(["rock", "pop", "hip-hop", "folk"], 40).tolist(),
            "country": rng.choice(["US", "GB", "IS"], 40).tolist(),
            "popularity": pa.array(rng.integers(0, 101, 40), pa.int16()),
            "followers": rng.integers(100, 5_000_000, 40),
            "formed_year": pa.array(
                [None if i % 7 == 0 else 1960 + i for i in range(40)], pa.int64()
            ),
            "spotify_id": [f"{i:022d}" for i in range(40)],
        }
    )
    venue_rows = []
    for i in range(30):
        city, state, country, lat, lon = CITIES[i % len(CITIES)]
        name, kind = VENUES[i % len(VENUES)]
        venue_rows.append(
            {
                "venue_id": f"V{i + 1:03d}",
                "name": name if i < len(VENUES) else f"{city} {name}",
                "city": city, "state": state, "country": country,
                "latitude": round(lat + rng.normal(0, 0.03), 5),
                "longitude": round(lon + rng.normal(0, 0.03), 5),
                "capacity": int(rng.integers(300, 60_000)), "venue_type": kind,
                "ticketmaster_id": f"KovZ{i:08d}",
            }
        )  # fmt: skip
    venues = pa.Table.from_pylist(venue_rows)
    fans = pa.table(
        {
            "fan_id": [f"F{i:04d}" for i in range(1, 61)],
            "city": [CITIES[i % 6][0] for i in range(60)],
            "state": [CITIES[i % 6][1] for i in range(60)],
            "country": [CITIES[i % 6][2] for i in range(60)],
            "age_band": rng.choice(AGE_BANDS, 60).tolist(),
            "signup_date": pa.array([date(2021, 1, 1) + timedelta(days=9 * i) for i in range(60)]),
            "favorite_genre": rng.choice(["rock", "pop", None], 60).tolist(),
        }
    )
    n = 150
    event = [date(2022, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 1400, n)]
    low = rng.uniform(20, 80, n)
    concerts = pa.table(
        {
            "concert_id": [f"C{i:04d}" for i in range(1, n + 1)],
            "artist_id": [f"A{int(i):03d}" for i in rng.integers(1, 41, n)],
            "venue_id": [f"V{int(i):03d}" for i in rng.integers(1, 31, n)],
            "event_date": pa.array(event, pa.date32()),
            "tour_name": [None if i % 4 == 0 else f"{ADJECTIVES[i % 8]} Tour" for i in range(n)],
            "status": rng.choice(CONCERT_STATUSES, n).tolist(),
            "on_sale_date": pa.array([d - timedelta(days=60) for d in event], pa.date32()),
            "price_min": price(low.tolist()),
            "price_max": price((low + rng.uniform(5, 120, n)).tolist()),
        }
    )
    stream: list[Chunk] = [
        ("artists", artists),
        ("venues", venues),
        ("fans", fans),
        ("concerts", concerts),
    ]
    for chunk in range(3):
        m = 400
        quantity = rng.integers(1, 7, m)
        unit = np.round(rng.uniform(15, 250, m), 2)
        sold = datetime(2023, 1, 1) + timedelta(seconds=1)
        stream.append(
            (
                "ticket_sales",
                pa.table(
                    {
                        "sale_id": [f"S{chunk * m + i + 1:06d}" for i in range(m)],
                        "concert_id": [f"C{int(i):04d}" for i in rng.integers(1, n + 1, m)],
                        "fan_id": [None if i % 5 == 0 else f"F{i % 60 + 1:04d}" for i in range(m)],
                        "sold_at": pa.array(
                            [sold + timedelta(minutes=int(x)) for x in rng.integers(0, 500_000, m)],
                            pa.timestamp("s"),
                        ),
                        "channel": rng.choice(SALES_CHANNELS, m).tolist(),
                        "price_tier": rng.choice(PRICE_TIERS, m).tolist(),
                        "quantity": pa.array(quantity, pa.int32()),
                        "unit_price": price(unit.tolist()),
                        "amount": price((quantity * unit).tolist()),
                    }
                ),
            )
        )
    capacity = rng.integers(500, 20_000, 40)
    sold_tickets = (capacity * rng.uniform(0.3, 1.0, 40)).astype(int)
    results = pa.table(
        {
            "concert_id": [f"C{i:04d}" for i in range(1, 41)],
            "shows": pa.array([1] * 40, pa.int32()),
            "tickets_sold": pa.array(sold_tickets, pa.int32()),
            "capacity": pa.array(capacity, pa.int32()),
            "gross_revenue": price((sold_tickets * 42.5).tolist()),
            "source": ["box_office_report"] * 40,
        }
    )
    return [*stream, ("concert_results", results)]


def run(out: Path, fmt: str = "csv", seed: int = 11, money: str = "float", **kwargs: Any) -> Path:
    with FileSink(out, fmt) as sink:  # type: ignore[arg-type]
        for name, table in make_dirty(clean_stream(money), seed, **kwargs):
            sink.write(name, table)
    return out


def read_rows(path: Path) -> list[dict[str, str | None]]:
    """A file's data rows as text, whatever its format; absent and null values are None."""
    if path.suffix == ".csv":
        with path.open(newline="") as fh:
            header = next(csv.reader(fh))
        types = dict.fromkeys(header, pa.string())
        options = pa_csv.ConvertOptions(
            column_types=types, strings_can_be_null=True, quoted_strings_can_be_null=False
        )
        rows: list[dict[str, Any]] = pa_csv.read_csv(path, convert_options=options).to_pylist()
    elif path.suffix == ".json":
        rows = json.loads(path.read_text())
    elif path.suffix == ".xml":
        rows = [{el.tag: el.text or "" for el in row} for row in ET.parse(path).getroot()]
    else:
        rows = pq.read_table(path).to_pylist()
    return [{k: None if v is None else str(v) for k, v in r.items()} for r in rows]


def blank(value: str | None) -> bool:
    return value is None or value.strip() == ""


@pytest.fixture(scope="module", params=FILE_FORMATS)
def dirty(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, list[Row]]:
    """Every file of one dirty run, by relative name without extension."""
    fmt = request.param
    out = run(tmp_path_factory.mktemp(f"dirty_{fmt}"), fmt)
    return {
        str(p.relative_to(out).with_suffix("")): read_rows(p) for p in sorted(out.rglob(f"*.{fmt}"))
    }


def bad_rows(files: dict[str, list[Row]]) -> dict[tuple[str, int], Row]:
    return {(b["table"], int(b["row_number"])): b for b in files["ground_truth/bad_rows"]}


def test_layout_has_two_sources_and_ground_truth(dirty: dict[str, list[Row]]) -> None:
    crm = {f"encore_crm/{t}" for t in (*ENTITY_TABLES, "fans", "ticket_sales", "concert_results")}
    second = {f"ticketmaster/{t}" for t in ENTITY_TABLES}
    assert set(dirty) == crm | second | {"ground_truth/entities", "ground_truth/bad_rows"}


def test_dirty_tables_are_all_strings() -> None:
    for name, table in make_dirty(clean_stream("decimal"), 5):
        if name != "ground_truth/bad_rows":
            assert set(table.schema.types) == {pa.string()}, name


@pytest.mark.parametrize("fmt", ["csv", "xml"])
def test_same_seed_same_bytes_other_seed_other_data(tmp_path: Path, fmt: str) -> None:
    first, again, other = (
        run(tmp_path / d, fmt, seed=s) for d, s in (("a", 4), ("b", 4), ("c", 5))
    )
    files = sorted(p.relative_to(first) for p in first.rglob(f"*.{fmt}"))
    assert files == sorted(p.relative_to(again) for p in again.rglob(f"*.{fmt}"))
    assert all((first / f).read_bytes() == (again / f).read_bytes() for f in files)
    assert any((first / f).read_bytes() != (other / f).read_bytes() for f in files)


def test_every_bad_row_entry_points_at_a_bad_row(dirty: dict[str, list[Row]]) -> None:
    ids = {
        t: {
            r[ID_COLUMNS[t]]
            for s in ("encore_crm", "ticketmaster")
            for r in dirty.get(f"{s}/{t}", [])
        }
        for t in ENTITY_TABLES
    }
    assert dirty["ground_truth/bad_rows"], "no malformed rows at all"
    for (table, number), entry in bad_rows(dirty).items():
        kind = table.split("/")[1]
        row = dirty[table][number - 1]
        id_value = row.get(ID_COLUMNS[kind])
        assert (id_value or "") == (entry["key"] or ""), (table, number)
        reason = entry["reason"]
        if reason in SCHEMA_VISIBLE and kind != "concert_results":
            with pytest.raises(ValidationError):
                validate_record(ENTITY_SCHEMAS[kind], row)
        if reason == "missing_id":
            assert blank(id_value)
        elif reason == "orphan_fk":
            parents = {"concerts": ("artist_id", "venue_id")}.get(kind, ("concert_id",))
            parent_tables = {"artist_id": "artists", "venue_id": "venues", "concert_id": "concerts"}
            assert any(row[c] not in ids[parent_tables[c]] for c in parents)
        elif reason == "duplicate_row":
            assert row in dirty[table][: number - 1]
        elif reason == "amount_mismatch":
            q, p, amount = (Decimal(str(row[c])) for c in ("quantity", "unit_price", "amount"))
            assert amount != q * p
        elif kind == "concert_results":
            assert not _valid_result(row)


def _valid_result(row: Row) -> bool:
    """The contract CHECKs of concert_results (core.schemas has no schema of this shape)."""
    try:
        shows, sold, capacity = (int(str(row[c])) for c in ("shows", "tickets_sold", "capacity"))
        gross = Decimal(str(row["gross_revenue"]))
    except (ValueError, ArithmeticError):
        return False
    return (
        shows >= 1
        and 0 <= sold <= capacity
        and capacity > 0
        and gross >= 0
        and not blank(row["concert_id"])
    )


def test_rows_not_listed_as_bad_are_valid(dirty: dict[str, list[Row]]) -> None:
    listed = bad_rows(dirty)
    for table, rows in dirty.items():
        if table.startswith("ground_truth"):
            continue
        kind = table.split("/")[1]
        for number, row in enumerate(rows, start=1):
            if (table, number) in listed:
                continue
            if kind == "concert_results":
                assert _valid_result(row), (table, number, row)
            else:
                validate_record(ENTITY_SCHEMAS[kind], row)


def test_clean_rows_refer_to_records_of_their_own_source(dirty: dict[str, list[Row]]) -> None:
    listed = bad_rows(dirty)
    for source in ("encore_crm", "ticketmaster"):
        artists = {r["artist_id"] for r in dirty[f"{source}/artists"]}
        venues = {r["venue_id"] for r in dirty[f"{source}/venues"]}
        for number, concert in enumerate(dirty[f"{source}/concerts"], start=1):
            if (f"{source}/concerts", number) not in listed:
                assert concert["artist_id"] in artists and concert["venue_id"] in venues
    concerts = {r["concert_id"] for r in dirty["encore_crm/concerts"]}
    for table in ("encore_crm/ticket_sales", "encore_crm/concert_results"):
        for number, row in enumerate(dirty[table], start=1):
            assert (table, number) in listed or row["concert_id"] in concerts


def test_entities_list_every_keyed_record_exactly_once(dirty: dict[str, list[Row]]) -> None:
    truth = dirty["ground_truth/entities"]
    pairs = Counter((r["source"], r["source_key"]) for r in truth)
    assert max(pairs.values()) == 1
    in_files = {
        (source, r[ID_COLUMNS[t]])
        for source in ("encore_crm", "ticketmaster")
        for t in ENTITY_TABLES
        for r in dirty[f"{source}/{t}"]
        if not blank(r[ID_COLUMNS[t]])
    }
    assert set(pairs) == in_files
    clean_ids = {
        t: {r[ID_COLUMNS[t]] for r in clean_stream()[i][1].to_pylist()}
        for i, t in ((0, "artists"), (1, "venues"), (3, "concerts"))
    }
    for r in truth:
        assert r["canonical_id"] in clean_ids[f"{r['entity_type']}s"]


def test_clusters_pair_sources_and_catch_reentries(dirty: dict[str, list[Row]]) -> None:
    clusters: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for r in dirty["ground_truth/entities"]:
        clusters[(r["entity_type"], r["canonical_id"])].append((r["source"], r["source_key"]))
    for entity, expected_share in (("artist", 0.6), ("venue", 0.7), ("concert", 0.5)):
        members = [m for (e, _), m in clusters.items() if e == entity]
        cross = [m for m in members if {s for s, _ in m} == {"encore_crm", "ticketmaster"}]
        reentered = [m for m in members if sum(s == "encore_crm" for s, _ in m) > 1]
        assert abs(len(cross) / len(members) - expected_share) < 0.05, entity
        assert reentered, f"no within-source duplicate {entity}s"
    patterns = {
        "artist": r"K8vZ917[0-9A-Za-z]{5}",
        "venue": r"KovZ[0-9A-Za-z]{8}",
        "concert": r"vvG1[0-9A-Za-z]{12}",
    }
    for r in dirty["ground_truth/entities"]:
        if r["source"] == "ticketmaster":
            assert re.fullmatch(patterns[r["entity_type"]], r["source_key"])


def test_variants_stay_recognisable(dirty: dict[str, list[Row]]) -> None:
    canonical = {
        (r["source"], r["source_key"]): r["canonical_id"] for r in dirty["ground_truth/entities"]
    }
    clean = {
        t: {r[ID_COLUMNS[t]]: r for r in tbl.to_pylist()}
        for t, tbl in clean_stream()
        if t in ENTITY_TABLES
    }
    listed = bad_rows(dirty)
    changed = 0
    for table in ("ticketmaster/artists", "ticketmaster/venues"):
        kind = table.split("/")[1]
        for number, row in enumerate(dirty[table], start=1):
            if (table, number) in listed:
                continue
            original = clean[kind][canonical[("ticketmaster", row[ID_COLUMNS[kind]])]]
            a, b = _simplify(str(row["name"])), _simplify(original["name"])
            assert difflib.SequenceMatcher(None, a, b).ratio() > 0.6, (
                row["name"],
                original["name"],
            )
            changed += row["name"] != original["name"]
            if kind == "venues":
                assert abs(float(str(row["latitude"])) - original["latitude"]) < 0.002
                assert (
                    abs(int(str(row["capacity"])) - original["capacity"])
                    <= 0.05 * original["capacity"]
                )
    assert changed > 20
    for number, row in enumerate(dirty["ticketmaster/concerts"], start=1):
        if ("ticketmaster/concerts", number) not in listed:
            original = clean["concerts"][canonical[("ticketmaster", row["concert_id"])]]
            shift = date.fromisoformat(str(row["event_date"])) - original["event_date"]
            assert abs(shift.days) <= 1
            assert canonical[("ticketmaster", row["artist_id"])] == original["artist_id"]
            assert canonical[("ticketmaster", row["venue_id"])] == original["venue_id"]


def _simplify(name: str) -> str:
    return " ".join(re.sub(r"[^a-z ]", "", name.lower().replace("(official)", "")).split())


def test_bad_rows_are_about_one_percent_and_every_kind_can_occur(tmp_path: Path) -> None:
    files = {
        str(p.relative_to(tmp_path).with_suffix("")): read_rows(p)
        for p in run(tmp_path, "parquet").rglob("*.parquet")
    }
    sales = [b for b in files["ground_truth/bad_rows"] if b["table"] == "encore_crm/ticket_sales"]
    assert 0.005 < len(sales) / len(files["encore_crm/ticket_sales"]) < 0.02
    many = list(make_dirty(clean_stream(), 2, bad_fraction=0.25))
    seen: dict[str, set[str]] = defaultdict(set)
    for name, table in many:
        if name == "ground_truth/bad_rows":
            for r in table.to_pylist():
                seen[r["table"].split("/")[1]].add(r["reason"])
    assert seen["ticket_sales"] == SCHEMA_VISIBLE | {"orphan_fk", "duplicate_row"}
    assert seen["concerts"] >= {
        "impossible_date",
        "unknown_enum",
        "orphan_fk",
        "missing_id",
        "duplicate_row",
    }
    assert seen["venues"] >= {"invalid_number", "out_of_range", "unknown_enum"}
    assert seen["artists"] >= {"invalid_number", "out_of_range"}
    assert seen["fans"] >= {"unknown_enum", "impossible_date"}


def test_ticket_sales_are_streamed_chunk_by_chunk() -> None:
    pulled: list[str] = []

    def source() -> Iterator[Chunk]:
        for name, table in clean_stream():
            pulled.append(name)
            yield name, table

    for name, _ in make_dirty(source(), 1):
        if name == "encore_crm/ticket_sales":
            # the first sales chunk comes out before the second one is read
            assert pulled.count("ticket_sales") == 1
            break


def test_tables_out_of_order_are_refused() -> None:
    stream = [c for c in clean_stream() if c[0] != "concerts"]
    with pytest.raises(EncoreError, match="concerts"):
        list(make_dirty(stream, 1))


def test_decimal_money_gives_valid_clean_rows(tmp_path: Path) -> None:
    files = {
        str(p.relative_to(tmp_path).with_suffix("")): read_rows(p)
        for p in run(tmp_path, "json", money="decimal").rglob("*.json")
    }
    listed = bad_rows(files)
    for number, row in enumerate(files["encore_crm/ticket_sales"], start=1):
        if ("encore_crm/ticket_sales", number) not in listed:
            validate_record(ENTITY_SCHEMAS["ticket_sales"], row)
