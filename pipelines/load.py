"""Loading validated records: canonical foreign keys, duplicate keys, and the merge per entity.

Entities with identity (artists, venues, concerts) go through entity resolution; box scores
attach to their concerts; listings found their artists, venues and concerts; the rest merge by
key. Every function works inside the caller's transaction on its temp tables.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

import duckdb

from core.schemas import ENTITY_SCHEMAS
from pipelines.ledger import Run
from pipelines.sinks.warehouse import upsert
from pipelines.transforms.normalize import match_key
from pipelines.transforms.resolve import RESOLUTIONS, record_links, resolve

# foreign keys to translate from source keys to canonical ids: column -> entity it points to
_FOREIGN_KEYS: Final[dict[str, dict[str, str]]] = {
    "concerts": {"artist_id": "artists", "venue_id": "venues"},
    "ticket_sales": {"concert_id": "concerts", "fan_id": "fans"},
    "concert_results": {"concert_id": "concerts"},
}
_PARENT_KEYS: Final = {"artists": "artist_id", "venues": "venue_id", "concerts": "concert_id",
                       "fans": "fan_id"}  # fmt: skip


def duplicate_key_sql(key: str, rows: str) -> str:
    """Flag every row but one of each key: the first valid row wins, the rest are quarantined."""
    return f"""
        SELECT * EXCLUDE (_reasons, _first), CASE WHEN {key} IS NOT NULL AND _first <> _line
            THEN list_append(_reasons, '{key}: duplicate_key (also on line ' || _first || ')')
            ELSE _reasons END AS _reasons
        FROM (SELECT *, first(_line) OVER (PARTITION BY {key}
                  ORDER BY len(_reasons) > 0, _line) AS _first FROM {rows})
    """


def linked_parents(con: duckdb.DuckDBPyConnection, entity: str, source: str) -> set[str]:
    """The parents of `entity` whose keys `source` has links in `entity_map` to translate.

    Links of a key to itself (a primary source's ids are the canonical ones) translate nothing:
    a parent with only those is left out, and its references are looked up as they are.
    """
    parents = [p for p in _FOREIGN_KEYS.get(entity, {}).values() if p in RESOLUTIONS]
    if not parents:
        return set()
    types = {RESOLUTIONS[p].entity_type: p for p in parents}
    rows = con.execute(
        "SELECT DISTINCT entity_type FROM entity_map WHERE source = ? AND entity_type IN "
        f"({', '.join('?' * len(types))}) AND source_key <> canonical_id",
        [source, *types],
    ).fetchall()
    return {types[t] for (t,) in rows}


def foreign_key_sql(
    entity: str, source: str, checked: str, *, linked: Collection[str] | None = None
) -> str:
    """SELECT the rows of `checked` with foreign keys made canonical and orphans flagged.

    A source key maps through `entity_map` (this source's links), else is taken as canonical
    when that id exists (the primary source's ids are canonical); otherwise it is an orphan.
    `linked` names the parents whose keys the source has links to translate (see
    `linked_parents`; default: all): the others skip the `entity_map` join.
    """
    refs = _FOREIGN_KEYS.get(entity, {})
    if not refs:
        return f"SELECT * FROM {checked}"
    joins, canonical, reasons = [], [], []
    quoted_source = "'" + source.replace("'", "''") + "'"
    for i, (column, parent) in enumerate(refs.items()):
        id_column = _PARENT_KEYS[parent]
        parent_ref = f"p{i}.{id_column}"
        if parent in RESOLUTIONS and (linked is None or parent in linked):
            joins.append(
                f"LEFT JOIN entity_map m{i} ON m{i}.entity_type = "
                f"'{RESOLUTIONS[parent].entity_type}' AND m{i}.source = {quoted_source} "
                f"AND m{i}.source_key = v.{column}"
            )
            target = f"coalesce(m{i}.canonical_id, v.{column})"
            joins.append(f"LEFT JOIN {parent} p{i} ON p{i}.{id_column} = {target}")
        else:
            joins.append(f"LEFT JOIN {parent} p{i} ON p{i}.{id_column} = v.{column}")
        # an orphan keeps the value it came with (the quarantine shows it)
        canonical.append(f'coalesce({parent_ref}, v.{column}) AS "{column}"')
        reasons.append(
            f"CASE WHEN v.{column} IS NOT NULL AND {parent_ref} IS NULL "
            f"THEN '{column}: orphan_fk (no {parent} with this id)' END"
        )
    listed = ", ".join(reasons)
    return (
        f"SELECT v.* EXCLUDE ({', '.join(refs)}, _reasons), {', '.join(canonical)}, "
        f"list_concat(v._reasons, list_filter([{listed}], lambda x: x IS NOT NULL)) AS _reasons "
        f"FROM {checked} v {' '.join(joins)}"
    )


def orphans_sql(entity: str, rows: str) -> str | None:
    """SELECT `_line` and `_orphaned` (the reasons) of the rows of `rows` whose references name
    no stored parent; None when `entity` has no references. For rows whose references are
    canonical ids already (no entity_map links): the orphans `foreign_key_sql` would flag."""
    refs = _FOREIGN_KEYS.get(entity, {})
    if not refs:
        return None
    reasons = [
        f"CASE WHEN v.{column} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {parent} p "
        f"WHERE p.{_PARENT_KEYS[parent]} = v.{column}) "
        f"THEN '{column}: orphan_fk (no {parent} with this id)' END"
        for column, parent in refs.items()
    ]
    return (
        f"SELECT _line, _orphaned FROM (SELECT _line, list_filter([{', '.join(reasons)}], "
        f"lambda x: x IS NOT NULL) AS _orphaned FROM {rows} v) WHERE len(_orphaned) > 0"
    )


def load_records(
    con: duckdb.DuckDBPyConnection,
    entity: str,
    source: str,
    run: Run,
    fields: list[str],
    *,
    appends: bool = False,
) -> tuple[int, int]:
    """Load `_clean` into the warehouse; `appends`: no stored key is in the batch's key range."""
    if entity in RESOLUTIONS:
        return _resolve_and_upsert(con, entity, source, run, "_clean", fields)
    if entity == "concert_results":
        return _load_box_scores(con, source, run)
    if entity == "concert_listings":
        return _load_listings(con, source, run)
    key = fields[0]
    return upsert(con, entity, "_clean", key, fields, appends=appends)


def _resolve_and_upsert(
    con: duckdb.DuckDBPyConnection,
    entity: str,
    source: str,
    run: Run,
    staged: str,
    fields: list[str],
) -> tuple[int, int]:
    """Link the staged records to canonical entities, then merge one row per entity."""
    spec = RESOLUTIONS[entity]
    resolved = resolve(con, entity, source, staged)
    record_links(con, entity, source, resolved, run.run_id)
    # One row per canonical entity: its most complete record. A record matched to an
    # entity we already hold brings its facts but not its spelling of the name (survivorship:
    # the name the entity was founded with stays; a source's own later edits do rename).
    names = [f for f in ("name",) if f in fields]
    kept = "".join(f", CASE WHEN _match = 'matched' THEN NULL ELSE {f} END AS {f}" for f in names)
    excluded = ", ".join([spec.id_column, *names])
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _canonical AS SELECT * EXCLUDE ({excluded}), "
        f"_canonical_id AS {spec.id_column}{kept} FROM {resolved} "
        f"QUALIFY row_number() OVER (PARTITION BY _canonical_id "
        f"ORDER BY _representative DESC, _line) = 1"
    )
    return upsert(con, spec.table, "_canonical", spec.id_column, fields)


def _load_listings(
    con: duckdb.DuckDBPyConnection, source: str, run: Run, rows: str = "_clean"
) -> tuple[int, int]:
    """Resolve (or found) each listing's artist and venue, then its concert.

    Source keys are the names as listed (artist; venue|city; artist|venue|city|date), so a
    listing seen again maps to the same entities. `rows` holds the listings' fields and `_line`.
    """
    venue_key = "venue || '|' || city"
    stages = {
        "artists": f"""SELECT artist AS artist_id, artist AS name, NULL::VARCHAR AS genre,
                NULL::VARCHAR AS country, NULL::SMALLINT AS popularity, NULL::BIGINT AS followers,
                NULL::SMALLINT AS formed_year, NULL::VARCHAR AS spotify_id, min(_line) AS _line
            FROM {rows} GROUP BY artist""",
        "venues": f"""SELECT {venue_key} AS venue_id, any_value(venue) AS name,
                any_value(city) AS city, any_value(state) AS state, any_value(country) AS country,
                avg(latitude) AS latitude, avg(longitude) AS longitude, NULL::INTEGER AS capacity,
                NULL::VARCHAR AS venue_type, NULL::VARCHAR AS ticketmaster_id,
                NULL::VARCHAR AS timezone, min(_line) AS _line
            FROM {rows} GROUP BY {venue_key}""",
    }
    for entity, sql in stages.items():
        con.execute(f"CREATE OR REPLACE TEMP TABLE _listed_{entity} AS {sql}")
        _resolve_and_upsert(con, entity, source, run, f"_listed_{entity}",
                            list(ENTITY_SCHEMAS[entity].model_fields))  # fmt: skip
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _listed_concerts AS
        SELECT artist || '|' || {venue_key} || '|' || event_date AS concert_id,
               a.canonical_id AS artist_id, v.canonical_id AS venue_id, event_date, tour_name,
               CASE WHEN event_date < current_date THEN 'completed' ELSE 'scheduled' END AS status,
               NULL::DATE AS on_sale_date, NULL::DECIMAL(10, 2) AS price_min,
               NULL::DECIMAL(10, 2) AS price_max, NULL::VARCHAR AS currency,
               NULL::TIMESTAMP AS starts_at, _line
        FROM {rows} c
        JOIN entity_map a ON a.entity_type = 'artist' AND a.source = $source
             AND a.source_key = c.artist
        JOIN entity_map v ON v.entity_type = 'venue' AND v.source = $source
             AND v.source_key = {venue_key}
        QUALIFY row_number() OVER (PARTITION BY concert_id ORDER BY _line) = 1""",
        {"source": source},
    )
    fields = list(ENTITY_SCHEMAS["concerts"].model_fields)
    return _resolve_and_upsert(con, "concerts", source, run, "_listed_concerts", fields)


def _load_box_scores(con: duckdb.DuckDBPyConnection, source: str, run: Run) -> tuple[int, int]:
    """Attach box scores to their concerts (by id, or by artist, venue, city and date +-1 day).

    A box score naming a concert we do not know, with its artist, venue, city, country and date,
    founds that concert as a listing does (artist and venue resolved or founded too). One that
    cannot be found or founded (an unknown id, no country) is quarantined, naming the concert.
    """
    _match_box_scores(con)
    founding = con.execute(
        "CREATE OR REPLACE TEMP TABLE _founding AS SELECT artist, venue, city, state, country, "
        "event_date, NULL::VARCHAR AS tour_name, NULL::DOUBLE AS latitude, "
        "NULL::DOUBLE AS longitude, _line FROM _results WHERE _concert IS NULL "
        "AND concert_id IS NULL AND country IS NOT NULL"
    ).fetchone()
    if founding and founding[0]:
        _load_listings(con, source, run, "_founding")
        _match_box_scores(con)
    con.execute(
        "INSERT INTO quarantine (run_id, entity, source, input_uri, line_number, record, reasons) "
        "SELECT ?, 'concert_results', ?, NULL, _line, to_json(r) , "
        "['record: unknown_concert (no concert of ' || artist || ' at ' || venue || ', ' || city "
        "|| ' on ' || event_date || ')'] FROM _results r WHERE _concert IS NULL",
        [run.run_id, source],
    )
    unknown = con.execute("SELECT count(*) FROM _results WHERE _concert IS NULL").fetchone()
    moved = int(unknown[0]) if unknown else 0
    run.accepted -= moved
    run.quarantined += moved
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _results_rows AS SELECT _concert AS concert_id, "
        # a report without a shows column means one show, as the schema's default says
        "coalesce(shows, 1) AS shows, tickets_sold, capacity, gross AS gross_revenue, "
        "? AS source FROM _results WHERE _concert IS NOT NULL "
        "QUALIFY row_number() OVER (PARTITION BY _concert ORDER BY _line) = 1",
        [source],
    )
    columns = ["concert_id", "shows", "tickets_sold", "capacity", "gross_revenue", "source"]
    return upsert(con, "concert_results", "_results_rows", "concert_id", columns)


def _match_box_scores(con: duckdb.DuckDBPyConnection) -> None:
    """`_results`: the box scores with `_concert`, the concert each one reports (or NULL)."""
    same = " AND ".join(
        f"{match_key(a)} = {match_key(b)}"
        for a, b in (("ar.name", "r.artist"), ("ve.name", "r.venue"), ("ve.city", "r.city"))
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _results AS
        SELECT r.*, coalesce(r.concert_id, (
            SELECT k.concert_id FROM concerts k JOIN artists ar USING (artist_id)
            JOIN venues ve USING (venue_id)
            WHERE {same} AND abs(k.event_date - r.event_date) <= 1
            ORDER BY abs(k.event_date - r.event_date), k.concert_id LIMIT 1)) AS _concert
        FROM _clean r"""
    )
