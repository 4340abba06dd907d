"""Names typed by people resolved to warehouse ids: exact (case-insensitive) first, then fuzzy."""

from __future__ import annotations

from typing import Final, Literal

import duckdb
from rapidfuzz import fuzz, process

from core.errors import ValidationError

EntityKind = Literal["artist", "venue"]

_TABLES: Final = {"artist": ("artists", "artist_id"), "venue": ("venues", "venue_id")}
_FUZZY_CUTOFF: Final = 86.0
"""WRatio score above which a typed name is taken as that entity (typos, missing 'The')."""


def resolve(con: duckdb.DuckDBPyConnection, kind: EntityKind, text: str) -> tuple[str, str]:
    """The (id, canonical name) of the artist or venue a user means; ids are accepted as is."""
    table, key = _TABLES[kind]
    wanted = text.strip()
    if not wanted:
        raise ValidationError(f"name the {kind}", field=kind)
    row = con.execute(
        f"SELECT {key}, name FROM {table} WHERE {key} = ? OR lower(name) = lower(?) "
        f"ORDER BY {key} = ? DESC LIMIT 1",
        [wanted, wanted, wanted],
    ).fetchone()
    if row:
        return str(row[0]), str(row[1])
    names = con.execute(f"SELECT {key}, name FROM {table}").fetchall()
    choices = {str(k): str(n) for k, n in names}
    best = process.extract(wanted, choices, scorer=fuzz.WRatio, limit=3)
    if best and best[0][1] >= _FUZZY_CUTOFF:
        return str(best[0][2]), best[0][0]
    close = ", ".join(name for name, _, _ in best)
    raise ValidationError(
        f"no {kind} named {wanted!r}" + (f"; did you mean: {close}?" if close else ""),
        field=kind,
        value=wanted,
    )
