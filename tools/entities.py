"""Names typed by people resolved to warehouse ids: exact (case-insensitive) first, then fuzzy."""

from __future__ import annotations

from typing import Final, Literal

import duckdb

from core.entities import match_name

EntityKind = Literal["artist", "venue"]

_TABLES: Final = {"artist": ("artists", "artist_id"), "venue": ("venues", "venue_id")}


def resolve(con: duckdb.DuckDBPyConnection, kind: EntityKind, text: str) -> tuple[str, str]:
    """The (id, canonical name) of the artist or venue a user means; ids are accepted as is."""
    table, key = _TABLES[kind]
    wanted = text.strip()
    # the exact hit in SQL first, so a well-typed name does not load the whole table
    row = con.execute(
        f"SELECT {key}, name FROM {table} WHERE {key} = ? OR lower(name) = lower(?) "
        f"ORDER BY {key} = ? DESC LIMIT 1",
        [wanted, wanted, wanted],
    ).fetchone()
    if row:
        return str(row[0]), str(row[1])
    rows = con.execute(f"SELECT {key}, name FROM {table}").fetchall()
    pos = match_name(kind, wanted, [str(n) for _, n in rows], ids=[str(k) for k, _ in rows])
    return str(rows[pos][0]), str(rows[pos][1])
