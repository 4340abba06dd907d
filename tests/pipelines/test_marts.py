"""concert_performance after loads: refreshing what a batch touched equals deriving it whole."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Any

import pytest

from core.settings import Settings
from core.warehouse import connect_writer
from pipelines.ingest import ingest_files
from pipelines.marts import refresh_concert_performance
from tests.conftest import query_warehouse

SALE_COLUMNS = [
    "sale_id", "concert_id", "fan_id", "sold_at", "channel", "price_tier", "quantity",
    "unit_price", "amount",
]  # fmt: skip
Mart = dict[Any, tuple[Any, ...]]


@pytest.fixture
def warehouse(small_settings: Settings, tmp_path: Path) -> Settings:
    """A writable copy of the small warehouse."""
    settings = Settings(data_dir=tmp_path / "encore")
    settings.data_dir.mkdir(parents=True)
    shutil.copy(small_settings.warehouse_file, settings.warehouse_file)
    return settings


def _same_as_whole(settings: Settings) -> Mart:
    """The mart as the loads left it, after asserting it equals the whole derivation."""
    con = connect_writer(settings)
    sql = "SELECT * EXCLUDE (refreshed_at) FROM concert_performance ORDER BY concert_id"
    try:
        incremental = con.execute(sql).fetchall()
        con.execute("BEGIN TRANSACTION")
        refresh_concert_performance(con)
        whole = con.execute(sql).fetchall()
        con.execute("ROLLBACK")
    finally:
        con.close()
    assert len(incremental) == len(whole)
    assert [r for r in incremental if r not in set(whole)] == []
    return {row[0]: row for row in incremental}


def _load_sales(settings: Settings, path: Path, rows: list[tuple[Any, ...]]) -> str:
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(SALE_COLUMNS)
        out.writerows(["" if v is None else v for v in row] for row in rows)
    [outcome] = ingest_files(settings, [path], entity="ticket_sales")
    assert outcome.status == "succeeded", outcome.message
    assert outcome.run is not None and outcome.run.quarantined == 0
    return outcome.run.run_id


def _sales_of(settings: Settings, concert: object) -> list[tuple[Any, ...]]:
    return query_warehouse(
        settings,
        f"SELECT {', '.join(SALE_COLUMNS)} FROM ticket_sales WHERE concert_id = '{concert}' "
        "ORDER BY sale_id",
    )


def test_loads_refresh_what_they_touch_as_a_whole_refresh_would(
    warehouse: Settings, tmp_path: Path
) -> None:
    [(busy, few, unsold, boxed)] = query_warehouse(
        warehouse,
        """SELECT
            (SELECT concert_id FROM ticket_sales GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1),
            (SELECT concert_id FROM ticket_sales GROUP BY 1 ORDER BY count(*), 1 LIMIT 1),
            (SELECT concert_id FROM concert_performance WHERE results_source = 'none'
             AND status = 'scheduled' ORDER BY 1 LIMIT 1),
            (SELECT concert_id FROM concert_performance WHERE results_source = 'box_score'
             ORDER BY 1 LIMIT 1)""",
    )
    before = _same_as_whole(warehouse)
    template = _sales_of(warehouse, busy)[0]

    # 1. new sales: more for a busy concert, the first for one unsold and one with a box score
    new = [
        (f"T{i}", concert, *template[2:]) for i, concert in enumerate([busy, busy, unsold, boxed])
    ]
    _load_sales(warehouse, tmp_path / "new.csv", new)
    after_new = _same_as_whole(warehouse)
    quantity = template[6]
    assert after_new[busy][6] == before[busy][6] + 2 * quantity  # tickets_sold
    assert after_new[unsold][-1] == after_new[boxed][-1] == "transactions"
    assert after_new[boxed][6] == quantity  # transactions win over the box score

    # 2. updates: a quantity changed, and every sale of a concert moved to another (so the
    # first concert's sales are gone by update) and the last new sale moved back off `boxed`
    changed = list(_sales_of(warehouse, busy)[0])
    changed[6], changed[8] = changed[6] + 1, (changed[6] + 1) * changed[7]
    moved = [(sale, busy, *rest) for sale, _, *rest in _sales_of(warehouse, few)]
    _load_sales(warehouse, tmp_path / "updates.csv",
                [tuple(changed), *moved, ("T3", unsold, *template[2:])])  # fmt: skip
    after_updates = _same_as_whole(warehouse)
    assert after_updates[few][-1] != "transactions" and _sales_of(warehouse, few) == []
    assert after_updates[boxed][-1] == "box_score"  # its only sale moved away
    assert after_updates[unsold][6] == 2 * quantity
    moved_tickets = sum(row[6] for row in moved)
    assert after_updates[busy][6] == after_new[busy][6] + 1 + moved_tickets

    # 3. a box score (another entity: derived from the dimension tables and the mart's sales)
    [(artist, venue, city, day)] = query_warehouse(
        warehouse,
        "SELECT a.name, v.name, v.city, c.event_date FROM concerts c JOIN artists a "
        "USING (artist_id) JOIN venues v USING (venue_id) "
        f"WHERE c.concert_id = '{few}'",
    )
    box = tmp_path / "boxscores.csv"
    box.write_text(
        "Headliner,Venue,City,Date,Shows,Attendance,Capacity,Gross\n"
        f'"{artist}","{venue}","{city}",{day},1,7,50000,350\n'
    )
    [outcome] = ingest_files(warehouse, [box], entity="concert_results")
    assert outcome.status == "succeeded" and outcome.run and outcome.run.accepted == 1
    after_box = _same_as_whole(warehouse)
    assert after_box[few][6:8] == (7, 350) and after_box[few][-1] == "box_score"
    assert after_box[busy] == after_updates[busy]
