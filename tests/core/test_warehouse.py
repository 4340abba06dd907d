"""Migrations are idempotent and versioned; the reader connection is locked down."""

from __future__ import annotations

import dataclasses

import duckdb
import pytest

from core import warehouse
from core.errors import MigrationError, WarehouseError
from core.settings import Settings
from core.warehouse import (
    CONTRACT_TABLES,
    available_migrations,
    connect_reader,
    connect_writer,
    migrate,
    transaction,
)


def test_migrations_create_every_contract_table(settings: Settings) -> None:
    con = connect_writer(settings)
    tables = {
        r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }
    assert set(CONTRACT_TABLES) <= tables
    columns = {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'concert_performance'"
        ).fetchall()
    }
    assert {
        "concert_id",
        "artist_id",
        "venue_id",
        "event_date",
        "status",
        "capacity",
        "tickets_sold",
        "gross_revenue",
        "avg_ticket_price",
        "sell_through",
    } <= columns


def test_migrate_is_idempotent(settings: Settings) -> None:
    con = connect_writer(settings, migrated=False)
    first = migrate(con)
    assert [m.version for m in first] == [m.version for m in available_migrations()]
    assert migrate(con) == []
    con.close()
    con = connect_writer(settings)  # reopening migrates again: nothing to do, data intact
    versions = con.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()
    assert [v[0] for v in versions] == [m.version for m in available_migrations()]


def test_an_edited_applied_migration_is_refused(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    connect_writer(settings).close()
    edited = [dataclasses.replace(m, sql=m.sql + "\n-- edited") for m in available_migrations()]
    monkeypatch.setattr(warehouse, "available_migrations", lambda: edited)
    with pytest.raises(MigrationError, match="changed after it was applied"):
        connect_writer(settings)


def test_a_failing_migration_leaves_nothing_half_applied(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = warehouse.Migration(
        1, "broken", "CREATE TABLE half (x INT); SELECT nonsense FROM nowhere;"
    )
    monkeypatch.setattr(warehouse, "available_migrations", lambda: [broken])
    with pytest.raises(MigrationError, match="0001_broken failed"):
        connect_writer(settings)
    monkeypatch.undo()
    con = duckdb.connect(str(settings.warehouse_file))
    tables = {
        r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }
    assert "half" not in tables


def test_constraints_hold_in_the_warehouse(settings: Settings) -> None:
    con = connect_writer(settings)
    venue = (
        "INSERT INTO venues (venue_id, name, city, state, country, latitude, longitude, capacity, "
        "venue_type) VALUES (?, 'Hall', 'Austin', 'TX', 'US', 30, -97, ?, 'club')"
    )
    con.execute(venue, ["V1", 900])
    with pytest.raises(duckdb.ConstraintException):
        con.execute(venue, ["V2", 0])
    with pytest.raises(duckdb.ConstraintException):  # unknown artist: referential integrity
        con.execute(
            "INSERT INTO concerts (concert_id, artist_id, venue_id, event_date, status) "
            "VALUES ('C1', 'A404', 'V1', DATE '2025-01-01', 'completed')"
        )


def test_rebuilding_ticket_sales_for_storage_keeps_rows_types_and_checks(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migration 0006 rebuilds ticket_sales (uncompressed sale ids) around the stored sales."""
    before = [m for m in available_migrations() if m.version < 6]
    monkeypatch.setattr(warehouse, "available_migrations", lambda: before)
    con = connect_writer(settings)
    sale = (
        "INSERT INTO ticket_sales VALUES "
        "(?, 'C1', NULL, TIMESTAMP '2025-01-01 10:00', ?, 'vip', 2, 10, 20)"
    )
    con.execute(sale, ["S1", "web"])
    described = "SELECT column_name, column_type, null FROM (DESCRIBE ticket_sales)"
    columns = con.execute(described).fetchall()
    con.close()
    through_0006 = [m for m in available_migrations() if m.version <= 6]
    monkeypatch.setattr(warehouse, "available_migrations", lambda: through_0006)
    con = connect_writer(settings)  # applies 0006
    assert con.execute("SELECT sale_id, amount FROM ticket_sales").fetchall() == [("S1", 20)]
    assert con.execute(described).fetchall() == columns
    with pytest.raises(duckdb.ConstraintException):
        con.execute(sale, ["S2", "fax"])
    con.execute("CHECKPOINT")
    [(compression,)] = con.execute(
        "SELECT DISTINCT compression FROM pragma_storage_info('ticket_sales') "
        "WHERE column_name = 'sale_id' AND segment_type <> 'VALIDITY'"
    ).fetchall()
    assert compression == "Uncompressed"
    con.close()


def test_sale_channels_and_tiers_become_enums_keeping_the_sales(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migration 0008 stores a sale's channel and price tier as ENUMs, around the stored sales."""
    before = [m for m in available_migrations() if m.version < 8]
    monkeypatch.setattr(warehouse, "available_migrations", lambda: before)
    con = connect_writer(settings)
    sale = (
        "INSERT INTO ticket_sales VALUES "
        "(?, 'C1', NULL, TIMESTAMP '2025-01-01 10:00', ?, 'vip', 2, 10, 20)"
    )
    con.execute(sale, ["S1", "box_office"])
    con.close()
    monkeypatch.undo()
    con = connect_writer(settings)  # applies 0008
    assert con.execute(
        "SELECT sale_id, channel, price_tier, amount FROM ticket_sales"
    ).fetchall() == [("S1", "box_office", "vip", 20)]
    types = dict(
        con.execute("SELECT column_name, column_type FROM (DESCRIBE ticket_sales)").fetchall()
    )
    assert types["channel"] == "ENUM('web', 'mobile', 'box_office', 'partner')"
    assert types["price_tier"] == "ENUM('general', 'reserved', 'premium', 'vip')"
    # the values read as text: a comparison with a word outside the vocabulary finds nothing
    assert con.execute(
        "SELECT count(*) FROM ticket_sales WHERE channel = 'Box Office' OR channel LIKE 'box%'"
    ).fetchall() == [(1,)]
    with pytest.raises(duckdb.ConversionException):  # outside the vocabulary: refused
        con.execute(sale, ["S2", "fax"])
    con.close()


def test_transaction_rolls_back_on_error(settings: Settings) -> None:
    con = connect_writer(settings)
    with pytest.raises(RuntimeError), transaction(con):
        con.execute("INSERT INTO fans (fan_id) VALUES ('F1')")
        raise RuntimeError("boom")
    assert con.execute("SELECT count(*) FROM fans").fetchone() == (0,)


def test_reader_refuses_writes_files_and_settings(settings: Settings) -> None:
    connect_writer(settings).close()
    con = connect_reader(settings)
    assert con.execute("SELECT count(*) FROM artists").fetchone() == (0,)
    for sql in (
        "INSERT INTO fans (fan_id) VALUES ('F1')",
        "SELECT * FROM read_csv('/etc/passwd')",
        "COPY artists TO '/tmp/leak.csv'",
        "SET enable_external_access = true",
        "INSTALL httpfs",
        "ATTACH '/tmp/other.duckdb'",
    ):
        with pytest.raises(duckdb.Error):
            con.execute(sql)


def test_reader_without_a_warehouse_says_how_to_build_one(settings: Settings) -> None:
    with pytest.raises(WarehouseError, match="encore generate"):
        connect_reader(settings)
