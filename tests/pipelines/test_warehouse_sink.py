"""Loading the warehouse: atomic rebuilds, marts that match their sources, integrity checks."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import duckdb
import pyarrow as pa
import pytest

from core.errors import WarehouseError
from core.settings import Settings
from core.warehouse import connect_reader, connect_writer
from pipelines.generate import SCALES, generate
from pipelines.integrity import check_warehouse
from pipelines.sinks.warehouse import last_build, rebuild, upsert
from tests.pipelines.conftest import AS_OF


def _small(seed: int) -> Iterator[tuple[str, pa.Table]]:
    return generate(SCALES["small"], seed, AS_OF)


def _build(
    settings: Settings, chunks: Iterator[tuple[str, pa.Table]], seed: int = 1
) -> dict[str, int]:
    return rebuild(settings, chunks, source="test", parameters={"seed": seed})


@pytest.fixture
def built(small_settings: Settings, settings: Settings) -> Settings:
    """`settings` with a private copy of the session's small warehouse (a built one), to change:
    a file copy instead of a build per test."""
    settings.data_dir.mkdir(parents=True)
    shutil.copy2(small_settings.warehouse_file, settings.warehouse_file)
    return settings


def test_the_small_warehouse_passes_every_integrity_rule(small_settings: Settings) -> None:
    con = connect_reader(small_settings)
    report = check_warehouse(con)
    assert report.ok, [f for f in report.problems if f.severity == "error"]
    kinds = {f.kind for f in report.findings}
    assert kinds == {"orphans", "nulls", "range", "duplicates", "consistency"}
    assert report.counts["ticket_sales"] >= SCALES["small"].ticket_sales


def test_concert_performance_agrees_with_sales_and_box_scores(
    small_db: duckdb.DuckDBPyConnection,
) -> None:
    rows = small_db.execute(
        """SELECT p.results_source, count(*),
                  count(*) FILTER (WHERE p.tickets_sold <> coalesce(s.n, r.tickets_sold, 0)),
                  count(*) FILTER (WHERE abs(p.sell_through - p.tickets_sold / p.capacity) > 1e-9)
           FROM concert_performance p
           LEFT JOIN (SELECT concert_id, sum(quantity) n FROM ticket_sales GROUP BY 1) s
                USING (concert_id)
           LEFT JOIN concert_results r USING (concert_id)
           GROUP BY 1"""
    ).fetchall()
    by_source = {
        source: (n, wrong_tickets, wrong_ratio) for source, n, wrong_tickets, wrong_ratio in rows
    }
    assert set(by_source) == {"transactions", "box_score", "none"}
    for source, (n, wrong_tickets, wrong_ratio) in by_source.items():
        assert n > 0, source
        assert (wrong_tickets, wrong_ratio) == (0, 0), source


def test_a_failed_rebuild_leaves_the_old_warehouse_untouched(built: Settings) -> None:
    settings, before = built, last_build(built)
    assert before is not None

    def dies_half_way() -> Iterator[tuple[str, pa.Table]]:
        for name, chunk in _small(2):
            if name == "ticket_sales":
                raise RuntimeError("killed mid-load")
            yield name, chunk

    with pytest.raises(RuntimeError, match="killed mid-load"):
        _build(settings, dies_half_way(), seed=2)
    assert last_build(settings) == before
    leftovers = [
        p.name for p in settings.warehouse_file.parent.iterdir() if p.name != "warehouse.duckdb"
    ]
    assert leftovers == []


def test_bad_rows_fail_the_load_and_name_the_table(settings: Settings) -> None:
    def orphan_sale() -> Iterator[tuple[str, pa.Table]]:
        for name, chunk in _small(1):
            yield name, chunk
            if name == "concerts":
                bad = pa.table(
                    {
                        "sale_id": ["X1"],
                        "concert_id": ["C404"],
                        "sold_at": [AS_OF],
                        "channel": ["web"],
                        "price_tier": ["general"],
                        "quantity": [1],
                        "unit_price": [10.0],
                        "amount": [10.0],
                    }
                )
                yield "ticket_sales", bad

    with pytest.raises(WarehouseError, match="loading ticket_sales failed"):
        _build(settings, orphan_sale())
    assert not settings.warehouse_file.exists()


def test_rebuild_refuses_while_another_process_writes(built: Settings) -> None:
    settings, before = built, last_build(built)
    import subprocess
    import sys

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
            "print('ready', flush=True); time.sleep(60)",
            str(settings.warehouse_file),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(WarehouseError, match="in use by another process"):
            _build(settings, _small(2), seed=2)
    finally:
        holder.kill()
        holder.wait()
    assert before is not None and last_build(settings) == before


def test_integrity_check_reports_broken_consistency(built: Settings) -> None:
    con = connect_writer(built)
    future = con.execute(
        "SELECT concert_id FROM concerts WHERE event_date > current_date LIMIT 1"
    ).fetchone()
    assert future is not None
    con.execute("UPDATE concerts SET status = 'completed' WHERE concert_id = ?", [future[0]])
    con.execute("DELETE FROM concert_performance WHERE concert_id = ?", [future[0]])
    report = check_warehouse(con)
    broken = {f.rule: f for f in report.problems}
    assert not report.ok
    assert broken["completed but dated in the future"].examples == [future[0]]
    assert broken["concert missing from concert_performance (refresh needed)"].rows == 1


def test_unenforced_fact_keys_are_still_checked(built: Settings) -> None:
    con = connect_writer(built)
    orphans = "SELECT * REPLACE ('C-gone' AS concert_id) FROM ticket_sales LIMIT 2"
    con.execute(f"INSERT INTO ticket_sales {orphans}")
    report = check_warehouse(con)
    broken = {(f.kind, f.rule): f.rows for f in report.problems}
    assert not report.ok
    assert broken[("orphans", "concert_id must exist in concerts.concert_id")] == 2
    assert broken[("duplicates", "sale_id is unique")] == 2


_SALE_COLUMNS = ["sale_id", "concert_id", "fan_id", "sold_at", "channel", "price_tier",
                 "quantity", "unit_price", "amount"]  # fmt: skip


def _sales_batch(con: duckdb.DuckDBPyConnection, rows: list[tuple[object, ...]]) -> str:
    con.execute("CREATE OR REPLACE TEMP TABLE batch AS SELECT * FROM ticket_sales LIMIT 0")
    con.executemany(f"INSERT INTO batch VALUES ({', '.join('?' * len(_SALE_COLUMNS))})", rows)
    return "batch"


def test_a_merge_into_ticket_sales_adds_changes_and_keeps(built: Settings) -> None:
    con = connect_writer(built)
    before = con.execute("SELECT count(*) FROM ticket_sales").fetchone()
    first, last = con.execute(
        "SELECT arg_min(ticket_sales, sale_id), arg_max(ticket_sales, sale_id) FROM ticket_sales"
    ).fetchone()  # type: ignore[misc]
    # the first stored sale moves channel and loses its fan in the source (a NULL keeps it);
    # the last one comes again unchanged; one sale is new
    moved = {**first, "channel": "partner" if first["channel"] != "partner" else "web"}
    batch = [
        tuple({**moved, "fan_id": None}[c] for c in _SALE_COLUMNS),
        tuple(last[c] for c in _SALE_COLUMNS),
        tuple({**last, "sale_id": "ZZ-new"}[c] for c in _SALE_COLUMNS),
    ]
    rows = _sales_batch(con, batch)
    assert upsert(con, "ticket_sales", rows, "sale_id", _SALE_COLUMNS) == (1, 1)
    stored = con.execute(
        "SELECT channel, fan_id FROM ticket_sales WHERE sale_id = ?", [first["sale_id"]]
    ).fetchall()
    assert stored == [(moved["channel"], first["fan_id"])]
    assert con.execute("SELECT count(*) FROM ticket_sales").fetchone() == (before[0] + 1,)  # type: ignore[index]
    # the same batch again changes nothing
    assert upsert(con, "ticket_sales", rows, "sale_id", _SALE_COLUMNS) == (0, 0)
    assert con.execute("SELECT count(*) FROM ticket_sales").fetchone() == (before[0] + 1,)  # type: ignore[index]


def test_a_merge_into_a_keyed_table_updates_in_place(built: Settings) -> None:
    con = connect_writer(built)
    artist_id, followers = con.execute(
        "SELECT artist_id, followers FROM artists WHERE artist_id IN "
        "(SELECT artist_id FROM concerts) LIMIT 1"
    ).fetchone()  # type: ignore[misc]
    con.execute(
        "CREATE TEMP TABLE batch AS SELECT artist_id, 'Renamed' AS name, NULL::BIGINT AS followers "
        "FROM artists WHERE artist_id = ? UNION ALL SELECT 'A-new', 'New Act', 5",
        [artist_id],
    )
    columns = ["artist_id", "name", "followers"]
    assert upsert(con, "artists", "batch", "artist_id", columns) == (1, 1)
    assert con.execute(
        "SELECT name, followers FROM artists WHERE artist_id = ?", [artist_id]
    ).fetchall() == [("Renamed", followers)]
    assert upsert(con, "artists", "batch", "artist_id", columns) == (0, 0)
