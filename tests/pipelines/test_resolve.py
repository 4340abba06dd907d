"""Entity resolution on a real warehouse: stored entities found, duplicates merged, reruns kept."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest

from core.warehouse import migrate
from pipelines.dedup_bench import bench_dedup
from pipelines.generate import SCALES, generate
from pipelines.generate.dirty import make_dirty
from pipelines.sinks.files import FileSink
from pipelines.transforms.resolve import record_links, resolve

ARTIST_COLUMNS = "artist_id, name, genre, country, popularity, followers, formed_year, spotify_id"


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    """An empty in-memory warehouse."""
    con = duckdb.connect()
    migrate(con)
    con.execute(
        f"INSERT INTO artists ({ARTIST_COLUMNS}) VALUES "
        "('A1', 'The Rolling Stones', 'rock', 'GB', 81, 14200000, 1962, NULL), "
        "('A2', 'The Killers', 'rock', 'US', 80, 9800000, 2001, NULL)"
    )
    yield con
    con.close()


def _stage(con: duckdb.DuckDBPyConnection, rows: list[str]) -> None:
    con.execute("CREATE OR REPLACE TEMP TABLE staged AS SELECT * FROM artists LIMIT 0")
    con.execute(f"INSERT INTO staged ({ARTIST_COLUMNS}) VALUES {', '.join(rows)}")


def _resolved(con: duckdb.DuckDBPyConnection, source: str = "tm") -> dict[str, tuple[str, str]]:
    out = resolve(con, "artists", source, "staged")
    return {
        key: (canonical, match)
        for key, canonical, match in con.execute(
            f"SELECT artist_id, _canonical_id, _match FROM {out} ORDER BY 1"
        ).fetchall()
    }


def test_a_variant_of_a_stored_artist_is_matched_to_it(con: duckdb.DuckDBPyConnection) -> None:
    _stage(con, ["('k1', 'ROLLING STONES, THE', 'rock', 'GB', 80, 14150000, 1962, 'sp1')"])
    assert _resolved(con) == {"k1": ("A1", "matched")}


def test_near_miss_founds_a_new_artist(con: duckdb.DuckDBPyConnection) -> None:
    _stage(con, ["('k1', 'The Kills', 'rock', 'GB', 62, 1100000, 2000, NULL)"])
    assert _resolved(con) == {"k1": ("k1", "new")}


def test_duplicates_within_a_batch_collapse(con: duckdb.DuckDBPyConnection) -> None:
    _stage(
        con,
        [
            "('k2', 'velvet wolves', 'indie', 'US', 44, 52000, 2019, NULL)",
            "('k1', 'The Velvet Wolves', 'indie', 'US', 44, 52100, 2019, 'sp9')",
            "('k3', 'Velvet Wolfs', 'indie', 'US', 45, 51900, 2019, NULL)",
        ],
    )
    # the most complete record founds the entity
    assert _resolved(con) == dict.fromkeys(("k1", "k2", "k3"), ("k1", "new"))


def test_a_new_id_taken_by_another_entity_is_prefixed(con: duckdb.DuckDBPyConnection) -> None:
    _stage(con, ["('A1', 'Golden Harbor', 'folk', 'US', 30, 9000, 2015, NULL)"])
    assert _resolved(con, "crm") == {"A1": ("crm:A1", "new")}


def test_a_rerun_keeps_every_link(con: duckdb.DuckDBPyConnection) -> None:
    _stage(
        con,
        [
            "('k1', 'Rolling Stones', 'rock', 'GB', 80, 14150000, 1962, NULL)",
            "('k2', 'Golden Harbor', 'folk', 'US', 30, 9000, 2015, NULL)",
        ],
    )
    first = _resolved(con)
    record_links(con, "artists", "tm", "staged_resolved", "run-1")
    # even after the stored artist is renamed out of reach, the links stand
    con.execute("UPDATE artists SET name = 'Something Else' WHERE artist_id = 'A1'")
    again = _resolved(con)
    assert {k: c for k, (c, _) in again.items()} == {k: c for k, (c, _) in first.items()}
    assert {m for _, m in again.values()} == {"mapped"}
    scores = dict(con.execute("SELECT source_key, match_score FROM entity_map").fetchall())
    assert scores["k1"] > 0.9 and scores["k2"] is None  # a founder has no match to score


def test_pairwise_f1_on_the_small_dirty_dataset(tmp_path: Path) -> None:
    wanted = {"artists", "venues", "concerts"}
    chunks = ((n, c) for n, c in generate(SCALES["small"], 11, date(2026, 6, 15)) if n in wanted)
    with FileSink(tmp_path, "csv") as sink:
        for name, chunk in make_dirty(chunks, 11):
            sink.write(name, chunk)
    report = bench_dedup(tmp_path)
    for entity in wanted:
        assert report[entity]["f1"] >= 0.97, (entity, report[entity])
        assert report[entity]["true_pairs"] > 50  # the data really has duplicates to find
