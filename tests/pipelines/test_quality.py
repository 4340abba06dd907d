"""Data-quality checks (2.3): a load re-checks what it could have changed; a report checks all."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from core.settings import Settings
from core.warehouse import connect_writer, reading
from pipelines.ingest import ingest_files
from pipelines.quality import CHECKS, Loaded, assess
from tests.conftest import query_warehouse


def test_a_load_rechecks_only_the_tables_it_wrote(small_db: duckdb.DuckDBPyConnection) -> None:
    everything = assess(small_db, record_flags=False)
    assert [r.name for r in everything.results] == [c.name for c in CHECKS]

    artists = assess(small_db, record_flags=False, tables=("artists",))
    assert {r.entity for r in artists.results} == {"artists"}
    sales = assess(small_db, record_flags=False, tables=("ticket_sales", "concert_performance"))
    names = {r.name for r in sales.results}
    assert "sale belongs to a known concert" in names
    assert "sold no more than capacity" in names  # reads concert_performance
    assert "one record per artist" not in names
    # a check reading a table the load wrote runs even when it is filed under another entity
    concerts = assess(small_db, record_flags=False, tables=("concerts",))
    assert "unit price within the concert's range" in {r.name for r in concerts.results}


@pytest.fixture
def warehouse(small_settings: Settings, tmp_path: Path) -> Settings:
    """A writable copy of the small warehouse."""
    settings = Settings(data_dir=tmp_path / "encore")
    settings.data_dir.mkdir(parents=True)
    shutil.copy(small_settings.warehouse_file, settings.warehouse_file)
    return settings


def _flags(settings: Settings, run_id: str, check: str) -> list[str]:
    quoted = check.replace("'", "''")
    rows = query_warehouse(
        settings,
        "SELECT record_key FROM quality_flags "
        f"WHERE run_id = '{run_id}' AND check_name = '{quoted}' ORDER BY 1",
    )
    return [str(key) for (key,) in rows]


def _write(path: Path, rows: list[list[Any]]) -> Path:
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows(["" if v is None else v for v in row] for row in rows)
    return path


def test_a_load_flags_the_records_it_wrote_and_a_report_sees_all(
    warehouse: Settings, tmp_path: Path
) -> None:
    con = connect_writer(warehouse)
    try:  # problems already stored: a sale far above its concert's prices, an artist's genre
        sale = con.execute(
            "SELECT s.* EXCLUDE (unit_price, amount), 10 * c.price_max AS unit_price "
            "FROM ticket_sales s JOIN concerts c USING (concert_id) ORDER BY sale_id LIMIT 1"
        ).fetchone()
        assert sale is not None
        updated, *fields, price = sale
        con.execute(
            "INSERT INTO ticket_sales (sale_id, concert_id, fan_id, sold_at, channel, price_tier, "
            "quantity, unit_price, amount) VALUES ('S-stored', ?, ?, ?, ?, ?, ?, ?, ? * ?)",
            [*fields, price, price, fields[-1]],
        )
        con.execute("INSERT INTO artists (artist_id, name) VALUES ('A-stored', 'Nameless Stored')")
    finally:
        con.close()
    concert, fan, sold_at, channel, tier, quantity = fields
    header = ["sale_id", "concert_id", "fan_id", "sold_at", "channel", "price_tier", "quantity",
              "unit_price", "amount"]  # fmt: skip
    outlier, normal = price, round(price / 10, 2)
    sales = _write(tmp_path / "sales.csv", [header] + [
        [sale_id, concert, fan, sold_at, channel, tier, quantity, unit, unit * quantity]
        for sale_id, unit in (("T-outlier", outlier), ("T-normal", normal), (updated, outlier))
    ])  # fmt: skip
    [outcome] = ingest_files(warehouse, [sales], entity="ticket_sales")
    assert outcome.status == "succeeded" and outcome.run is not None, outcome.message
    price_check = "unit price within the concert's range"
    assert _flags(warehouse, outcome.run.run_id, price_check) == sorted([updated, "T-outlier"])

    artists = _write(tmp_path / "artists.csv", [
        ["Artist ID", "Artist Name", "Primary Genre"], ["x9", "Quiet Newcomers", ""],
    ])  # fmt: skip
    [outcome] = ingest_files(warehouse, [artists])
    assert outcome.status == "succeeded" and outcome.run is not None, outcome.message
    [(canonical,)] = query_warehouse(
        warehouse, "SELECT canonical_id FROM entity_map WHERE source_key = 'x9'"
    )
    assert _flags(warehouse, outcome.run.run_id, "genre present") == [canonical]

    # the report over the warehouse still sees the stored problems
    with reading(warehouse) as con:
        report = {r.name: r for r in assess(con, record_flags=False).results}
    assert report[price_check].flagged >= 2
    assert report["genre present"].flagged >= 2


def test_a_batch_is_judged_as_the_whole_table_judges_its_rows(
    warehouse: Settings,
) -> None:
    """For each check, the batch's counts are the whole report's restricted to the batch."""
    con = connect_writer(warehouse)
    try:
        con.execute(
            "CREATE TEMP VIEW _clean AS SELECT * FROM ticket_sales "
            "WHERE sale_id IN (SELECT sale_id FROM ticket_sales ORDER BY hash(sale_id) LIMIT 500)"
        )
        sales = ("ticket_sales",)
        batch = assess(con, record_flags=False, tables=sales, loaded=Loaded(*sales, "files"))
        for result in batch.results:
            check = next(c for c in CHECKS if c.name == result.name)
            flagged = check.flagged_sql.replace("{rows}", "ticket_sales")
            [(expected,)] = con.execute(
                f"SELECT count(*) FROM ({flagged}) f(k, d) WHERE k IN (SELECT sale_id FROM _clean)"
            ).fetchall()
            assert (result.rows, result.flagged) == (500, expected), result.name
        assert {r.name for r in batch.results} == {
            "sale belongs to a known concert", "unit price within the concert's range"
        }  # fmt: skip
    finally:
        con.close()
