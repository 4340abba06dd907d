"""Entity resolution: link each source record to its canonical entity (requirement 1.4, 5.5).

Links are made, in order: a link recorded earlier in `entity_map` (so reruns are stable); else a
fuzzy match (`matching.py`, rules in `matching_rules.py`) against the canonical entities already
in the warehouse and the other records of the batch; else the record founds a new canonical
entity, with the other records of the batch that match it. Every link is written to `entity_map`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import duckdb

from pipelines.transforms.matching import MatchRules, link
from pipelines.transforms.matching_rules import RULES

EntityType = Literal["artist", "venue", "concert"]


@dataclass(frozen=True)
class Resolution:
    """How one entity type is resolved: its table, id column and match rules."""

    entity_type: EntityType
    table: str
    id_column: str
    rules: MatchRules


RESOLUTIONS: Final[dict[str, Resolution]] = {
    "artists": Resolution("artist", "artists", "artist_id", RULES["artists"]),
    "venues": Resolution("venue", "venues", "venue_id", RULES["venues"]),
    "concerts": Resolution("concert", "concerts", "concert_id", RULES["concerts"]),
}


def resolve(con: duckdb.DuckDBPyConnection, entity: str, source: str, staged: str) -> str:
    """Add `_canonical_id`, `_match`, `_score` and `_representative` to `staged`; return the table.

    `staged` holds validated rows keyed by the source's own ids in the id column. `_match` is
    'mapped' (linked before), 'matched' (to an entity already in the warehouse) or 'new';
    `_score` is the match probability of the record's best link (NULL for a lone founder);
    `_representative` marks, per canonical id, the most complete record of the batch.
    """
    spec = RESOLUTIONS[entity]
    out = f"{staged}_resolved"
    records = _records(con, spec, source, staged)
    links = link(con, spec.rules, records, f"{out}_links")
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {out} AS
        WITH linked AS (
            SELECT s.*, r._anchor, r._filled, l._anchored, l._score,
                   CASE WHEN l._anchored THEN l._canonical_id
                        -- a new entity keeps its founder's key unless another entity has that id
                        WHEN l._canonical_id IN (SELECT {spec.id_column} FROM {spec.table})
                        THEN $source || ':' || l._canonical_id
                        ELSE l._canonical_id END AS _canonical_id
            FROM {staged} s
            JOIN {records} r ON r._key = s.{spec.id_column} AND NOT r._existing
            JOIN {links} l ON l._key = s.{spec.id_column}
        )
        SELECT * EXCLUDE (_anchor, _filled, _anchored),
               CASE WHEN _anchor IS NOT NULL THEN 'mapped'
                    WHEN _anchored THEN 'matched' ELSE 'new' END AS _match,
               row_number() OVER (
                   PARTITION BY _canonical_id ORDER BY _filled DESC, {spec.id_column}
               ) = 1 AS _representative
        FROM linked
        """,
        {"source": source},
    )
    con.execute(f"DROP TABLE IF EXISTS {records}")
    con.execute(f"DROP TABLE IF EXISTS {links}")
    return out


def _records(con: duckdb.DuckDBPyConnection, spec: Resolution, source: str, staged: str) -> str:
    """One node per incoming source key and per canonical row, with the fields both have."""
    incoming = _columns(con, staged)
    shared = [c for c in _columns(con, spec.table) if c in incoming and c != spec.id_column]
    fields = ", ".join(f'"{c}"' for c in shared)
    filled = " + ".join(f'("{c}" IS NOT NULL)::INT' for c in shared) or "0"
    records = f"{staged}_records"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {records} AS
        SELECT {fields}, s.{spec.id_column} AS _key, m.canonical_id AS _anchor,
               false AS _existing, {filled} AS _filled
        FROM {staged} s
        LEFT JOIN entity_map m
          ON m.entity_type = '{spec.entity_type}' AND m.source = $source
         AND m.source_key = s.{spec.id_column}
        WHERE s.{spec.id_column} IS NOT NULL
        -- a key listed twice in one file is one record
        QUALIFY row_number() OVER (PARTITION BY s.{spec.id_column} ORDER BY {filled} DESC) = 1
        UNION ALL
        SELECT {fields}, {spec.id_column}, {spec.id_column}, true, {filled}
        FROM {spec.table}
        """,
        {"source": source},
    )
    return records


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    return [str(d[0]) for d in con.execute(f"SELECT * FROM {relation} LIMIT 0").description]


def record_links(
    con: duckdb.DuckDBPyConnection, entity: str, source: str, resolved: str, run_id: str
) -> None:
    """Write every record's link to `entity_map` (existing links are kept as they are)."""
    spec = RESOLUTIONS[entity]
    con.execute(
        f"""
        INSERT INTO entity_map (entity_type, source, source_key, canonical_id, match_score, run_id)
        SELECT DISTINCT ON ({spec.id_column}) '{spec.entity_type}', $source, {spec.id_column},
               _canonical_id, _score, $run_id
        FROM {resolved}
        ORDER BY {spec.id_column}
        ON CONFLICT DO NOTHING
        """,
        {"source": source, "run_id": run_id},
    )


def translate_keys(
    con: duckdb.DuckDBPyConnection, relation: str, column: str, entity: str, source: str
) -> str:
    """SQL for `column` of `relation` translated from `source` keys to canonical ids.

    A key with no link is taken as canonical when that id exists (the primary source's ids
    are canonical), else NULL (an orphan).
    """
    spec = RESOLUTIONS[entity]
    key = f"{relation}.{column}"
    return f"""coalesce(
        (SELECT canonical_id FROM entity_map m WHERE m.entity_type = '{spec.entity_type}'
            AND m.source = '{source.replace("'", "''")}' AND m.source_key = {key}),
        (SELECT {spec.id_column} FROM {spec.table} t WHERE t.{spec.id_column} = {key}))"""
