"""Concerts that already have results and a performance row take updates (migration 0007).

DuckDB refuses to update an indexed column (concerts.artist_id, venue_id) of a row another
table references; with the box scores and concert_performance declaring a key to concerts, a
cancellation, a new price or a second source's record of such a concert failed the whole load.
"""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pytest

from core import warehouse
from core.settings import Settings
from core.warehouse import available_migrations, connect_reader, connect_writer
from pipelines.ingest import ingest_files
from pipelines.integrity import check_warehouse
from tests.conftest import query_warehouse

CHILDREN = ("concert_results", "concert_performance")


def _copy(small_settings: Settings, tmp_path: Path) -> Settings:
    settings = small_settings.model_copy(update={"data_dir": tmp_path / "copy"})
    settings.data_dir.mkdir()
    settings.warehouse_file.write_bytes(small_settings.warehouse_file.read_bytes())
    return settings


def test_concerts_with_results_or_sales_take_a_cancellation_and_a_new_price(
    small_settings: Settings, tmp_path: Path
) -> None:
    settings = _copy(small_settings, tmp_path)
    columns = "concert_id, artist_id, venue_id, event_date, tour_name, status, on_sale_date, " \
        "price_min, price_max"  # fmt: skip
    # one concert with ticket sales (a transactions performance row), one with a box score
    sold, scored = query_warehouse(
        settings,
        f"(SELECT {columns} FROM concerts WHERE status = 'scheduled' AND concert_id IN "
        "(SELECT concert_id FROM ticket_sales) ORDER BY concert_id LIMIT 1) UNION ALL "
        f"(SELECT {columns} FROM concerts WHERE concert_id IN "
        "(SELECT concert_id FROM concert_results) ORDER BY concert_id LIMIT 1)",
    )
    path = tmp_path / "concerts.csv"
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow([c.strip() for c in columns.split(",")])
        writer.writerow([*sold[:5], "cancelled", *sold[6:]])  # cancelled
        writer.writerow([*scored[:8], float(scored[8]) + 10])  # a new top price
    [outcome] = ingest_files(settings, [path], entity="concerts")

    assert outcome.status == "succeeded", outcome.message
    assert outcome.run is not None and outcome.run.updated == 2
    assert query_warehouse(
        settings, f"SELECT status FROM concerts WHERE concert_id = '{sold[0]}'"
    ) == [("cancelled",)]
    assert query_warehouse(
        settings, f"SELECT price_max FROM concerts WHERE concert_id = '{scored[0]}'"
    ) == [(scored[8] + 10,)]
    # the performance row follows its concert; the results and sales are kept
    assert query_warehouse(
        settings, f"SELECT status FROM concert_performance WHERE concert_id = '{sold[0]}'"
    ) == [("cancelled",)]
    assert query_warehouse(
        settings, f"SELECT count(*) FROM concert_results WHERE concert_id = '{scored[0]}'"
    ) == [(1,)]
    con = connect_reader(settings)
    orphans = [f for f in check_warehouse(con).findings if f.kind == "orphans"]
    con.close()
    checked = {(f.table, f.rule) for f in orphans}
    assert ("concert_results", "concert_id must exist in concerts.concert_id") in checked
    assert not [f for f in orphans if f.rows]


def test_migration_0007_keeps_the_results_and_performance_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=tmp_path / "encore")
    before = [m for m in available_migrations() if m.version < 7]
    monkeypatch.setattr(warehouse, "available_migrations", lambda: before)
    con = connect_writer(settings)
    con.execute("INSERT INTO artists (artist_id, name) VALUES ('A1', 'Band')")
    con.execute(
        "INSERT INTO venues (venue_id, name, city, country) VALUES ('V1', 'Hall', 'Oslo', 'NO')"
    )
    con.execute(
        "INSERT INTO concerts (concert_id, artist_id, venue_id, event_date, status) "
        "VALUES ('C1', 'A1', 'V1', DATE '2025-01-01', 'completed')"
    )
    con.execute("INSERT INTO concert_results VALUES ('C1', 1, 90, 100, 4500, 'files')")
    rows = {t: con.execute(f"SELECT * FROM {t}").fetchall() for t in CHILDREN}
    described = {t: con.execute(f"DESCRIBE {t}").fetchall() for t in CHILDREN}
    con.close()
    monkeypatch.undo()

    con = connect_writer(settings)  # applies 0007
    assert {t: con.execute(f"SELECT * FROM {t}").fetchall() for t in CHILDREN} == rows
    assert {t: con.execute(f"DESCRIBE {t}").fetchall() for t in CHILDREN} == described
    with pytest.raises(duckdb.ConstraintException):  # the checks are still there
        con.execute("INSERT INTO concert_results VALUES ('C2', 1, 200, 100, 1, 'files')")
    con.execute("UPDATE concerts SET venue_id = venue_id, status = 'completed'")  # was refused
    # the keys to artists and venues still hold, and an unreferenced one can be deleted
    con.execute("INSERT INTO artists (artist_id, name) VALUES ('A2', 'Other')")
    with pytest.raises(duckdb.ConstraintException):
        con.execute("DELETE FROM artists WHERE artist_id = 'A1'")
    con.execute("DELETE FROM artists WHERE artist_id = 'A2'")
    con.close()
