"""The key buckets a Redshift sync diffs by (pipelines/aws/buckets.py).

The bucket of a key must be the same in DuckDB (which exports it) and in Redshift (which deletes
by it); PostgreSQL, the tests' stand-in, runs the same transpiled SQL. A bucket's digest must
change with any change of its rows, and only then.
"""

from __future__ import annotations

import duckdb
import pytest

from pipelines.aws.buckets import (
    BUCKET_ROWS,
    Bucket,
    bucket_sql,
    changed,
    choose_width,
    local_buckets,
    width_for,
)
from pipelines.aws.redshift import transpile

KEYS = ["A1", "", "O'Brien", 'say "hi"', "Beyoncé", "Beyonce\u0301", "Sigur Rós", "東京ドーム",
        "🎸", "tab\there", "a" * 300, "line\nbreak", "back`tick"]  # fmt: skip


def test_duckdb_and_postgres_put_each_key_in_the_same_bucket(pg_dsn: str) -> None:
    import psycopg

    duck = duckdb.connect()
    duck.execute("CREATE TABLE k (key VARCHAR)")
    duck.executemany("INSERT INTO k VALUES (?)", [[key] for key in KEYS])
    sql = f"SELECT key, {bucket_sql('key', 4)} FROM k"
    local = dict(duck.execute(sql).fetchall())
    with psycopg.connect(pg_dsn) as pg, pg.cursor() as cur:
        cur.execute("CREATE TEMPORARY TABLE k (key TEXT)")
        cur.executemany("INSERT INTO k VALUES (%s)", [(key,) for key in KEYS])
        cur.execute(transpile(sql, "postgres"))
        remote = dict(cur.fetchall())
    assert remote == local and len(local) == len(KEYS)
    assert all(len(bucket) == 4 for bucket in local.values())


def _digests(rows: list[tuple[str, str | None, str | None]]) -> dict[str, Bucket]:
    con = duckdb.connect()
    con.execute("CREATE TABLE fans (fan_id VARCHAR, city VARCHAR, state VARCHAR)")
    con.executemany("INSERT INTO fans VALUES (?, ?, ?)", [list(r) for r in rows])
    return local_buckets(con, "fans", "fan_id", ["fan_id", "city", "state"], 1)


def test_a_digest_changes_with_any_change_of_its_rows_and_only_then() -> None:
    # F1 and F4 share bucket "e" (MD5 e1.. and e7..)
    base = [("F1", "Austin", "TX"), ("F4", "Boston", "MA"), ("F2", "Reno", "NV")]
    before = _digests(base)
    assert before["e"].rows == 2
    assert _digests(list(reversed(base))) == before  # the order rows are stored in
    variants = {
        "cities swapped between two rows": [("F1", "Boston", "TX"), ("F4", "Austin", "MA"),
                                            base[2]],
        "city and state swapped in a row": [("F1", "TX", "Austin"), *base[1:]],
        "an empty text for a NULL": [("F1", "Austin", None), *base[1:]],
        "a row deleted": base[1:],
        "a row added": [*base, ("F14", "Waco", "TX")],
    }  # fmt: skip
    for what, rows in variants.items():
        after = _digests(rows)
        assert changed(after, before), what
    null_vs_empty = _digests([("F1", "Austin", ""), *base[1:]])
    assert changed(null_vs_empty, _digests([("F1", "Austin", None), *base[1:]])) == {"e"}


@pytest.mark.parametrize(
    ("rows", "synced_width", "expected"),
    [
        (0, None, (1, False)),  # empty, never synced: nothing to do
        (10, None, (1, True)),  # never synced: whole
        (10, 1, (1, False)),
        (BUCKET_ROWS * 16**2, 1, (1, False)),  # ideal 2: one step away, kept
        (BUCKET_ROWS * 16**2 + 1, 1, (3, True)),  # ideal 3: two steps, replaced whole
        (10, 3, (1, True)),  # shrunk a lot
        (10**9, 4, (4, False)),  # the widest
    ],
)
def test_the_width_moves_only_a_factor_of_16_away(
    rows: int, synced_width: int | None, expected: tuple[int, bool]
) -> None:
    synced = {} if synced_width is None else {"0" * synced_width: Bucket("x", 1)}
    assert choose_width(rows, synced) == expected
    assert width_for(BUCKET_ROWS * 16) == 1 and width_for(BUCKET_ROWS * 16 + 1) == 2
