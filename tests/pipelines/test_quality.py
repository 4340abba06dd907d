"""Data-quality checks (2.3): a load re-checks what it could have changed; a report checks all."""

from __future__ import annotations

import duckdb

from pipelines.quality import CHECKS, assess


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
