"""The SQL validator and the pydantic schemas agree, row by row, on real-looking dirty data."""

from __future__ import annotations

from datetime import date

import duckdb
import pyarrow as pa
import pytest

from core.errors import ValidationError
from core.schemas import ENTITY_SCHEMAS, validate_record
from pipelines.generate import SCALES, generate
from pipelines.generate.dirty import make_dirty
from pipelines.transforms.validate import validation_sql

SCHEMA_VISIBLE = {"invalid_number", "out_of_range", "impossible_date", "missing_id", "unknown_enum",
                  "amount_mismatch"}  # fmt: skip


@pytest.fixture(scope="module")
def dirty() -> dict[str, pa.Table]:
    parts: dict[str, list[pa.Table]] = {}
    for name, chunk in make_dirty(generate(SCALES["small"], 11, date(2026, 3, 1)), 11):
        parts.setdefault(name, []).append(chunk)
    return {name: pa.concat_tables(chunks) for name, chunks in parts.items()}


def _sql_reasons(table: pa.Table, entity: str) -> list[list[str]]:
    con = duckdb.connect()
    con.register("src", table)
    sql = validation_sql(ENTITY_SCHEMAS[entity], "src", table.column_names, keep=[])
    return [row[-1] for row in con.execute(sql).fetchall()]


@pytest.mark.parametrize("entity", ["artists", "venues", "fans", "concerts", "ticket_sales"])
def test_sql_and_pydantic_accept_and_reject_the_same_rows(
    dirty: dict[str, pa.Table], entity: str
) -> None:
    table = dirty[f"encore_crm/{entity}"]
    sql_reasons = _sql_reasons(table, entity)
    disagreements = []
    for row, reasons in zip(table.to_pylist(), sql_reasons, strict=True):
        record = {k: v for k, v in row.items() if v is not None}
        try:
            validate_record(ENTITY_SCHEMAS[entity], record)
            pydantic_ok = True
        except ValidationError:
            pydantic_ok = False
        if pydantic_ok != (not reasons):
            disagreements.append((row, reasons))
    assert disagreements == []


def test_every_schema_visible_bad_row_is_caught(dirty: dict[str, pa.Table]) -> None:
    truth = dirty["ground_truth/bad_rows"].to_pylist()
    missed = []
    for entity in ("artists", "venues", "fans", "concerts", "ticket_sales"):
        reasons = _sql_reasons(dirty[f"encore_crm/{entity}"], entity)
        missed += [
            bad
            for bad in truth
            if bad["table"] == f"encore_crm/{entity}"
            and bad["reason"] in SCHEMA_VISIBLE
            and not reasons[int(bad["row_number"]) - 1]
        ]
    assert missed == []
    assert sum(1 for b in truth if b["reason"] in SCHEMA_VISIBLE) > 50


def test_reasons_name_the_field_the_rule_and_the_value() -> None:
    row = {"venue_id": "V1", "name": "Hall", "city": "Oslo", "country": "no", "latitude": "123.4",
           "capacity": "12O0", "venue_type": "Theatre"}  # fmt: skip
    table = pa.Table.from_pylist([row])
    [reasons] = _sql_reasons(table, "venues")
    assert reasons == [
        "latitude: out_of_range (must be <= 90) (got 123.4)",
        "capacity: invalid_number (got 12O0)",
    ]


def test_times_with_an_offset_are_stored_in_utc_whatever_the_session_zone() -> None:
    starts = ["2026-03-01T20:00:00-05:00", "2026-03-01T20:00:00Z", "2026-03-01 20:00:00",
              "2026-03-01T20:00:00+0530"]  # fmt: skip
    rows = [{"concert_id": f"c{i}", "artist_id": "a", "venue_id": "v", "event_date": "2026-03-01",
             "status": "scheduled", "currency": "mxn", "starts_at": s}
            for i, s in enumerate(starts)]  # fmt: skip
    con = duckdb.connect()
    con.execute("SET TimeZone = 'America/Chicago'")  # must not change what is stored
    con.register("src", pa.Table.from_pylist(rows))
    sql = validation_sql(ENTITY_SCHEMAS["concerts"], "src", list(rows[0]), keep=[])
    result = con.execute(f"SELECT starts_at::VARCHAR, currency, _reasons FROM ({sql})").fetchall()
    assert result == [
        ("2026-03-02 01:00:00", "MXN", []),
        ("2026-03-01 20:00:00", "MXN", []),
        ("2026-03-01 20:00:00", "MXN", []),  # no offset: taken as UTC already
        ("2026-03-01 14:30:00", "MXN", []),
    ]


def test_short_offsets_and_zone_names_are_converted_and_unknown_zones_refused() -> None:
    starts = {
        "2026-03-01T20:00+02": ("2026-03-01 18:00:00", []),  # 19 characters, offset kept
        "2026-03-01T20:00Z": ("2026-03-01 20:00:00", []),
        "2026-3-1 20:00:00.123456789Z": ("2026-03-01 20:00:00.123456", []),  # to microseconds
        "2026-03-01 20:00:00 CET": ("2026-03-01 19:00:00", []),
        "2026-07-01 20:00 Europe/Paris": ("2026-07-01 18:00:00", []),  # summer time
        "2026-03-01 20:00:00 UTC": ("2026-03-01 20:00:00", []),
        "2026-03-01 20:00:00 Mars/Olympus": (None, ["invalid_timestamp"]),
        "2026-03-01 20:00:00 +02": (None, ["invalid_timestamp"]),  # not an ISO offset
        "2026-03-01 20:00:00": ("2026-03-01 20:00:00", []),
        "2026-03-01": ("2026-03-01 00:00:00", []),  # a date alone: no "-01" offset
    }
    rows = [{"sale_id": f"s{i}", "concert_id": "c", "sold_at": s, "channel": "web",
             "price_tier": "general", "quantity": "1", "unit_price": "2", "amount": "2"}
            for i, s in enumerate(starts)]  # fmt: skip
    con = duckdb.connect()
    con.execute("SET TimeZone = 'Asia/Tokyo'")  # must not change what is stored
    con.register("src", pa.Table.from_pylist(rows))
    sql = validation_sql(ENTITY_SCHEMAS["ticket_sales"], "src", list(rows[0]), keep=[])
    result = con.execute(f"SELECT sold_at::VARCHAR, _reasons FROM ({sql})").fetchall()
    got = [(at, [r.split(": ")[1].split(" ")[0] for r in reasons]) for at, reasons in result]
    assert got == list(starts.values())
