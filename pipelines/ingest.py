"""File ingestion: land raw, parse, map headers, validate, quarantine, normalise, resolve, load.

Each file is one run, recorded in the ledger, and loaded in one transaction: a run that fails
or is killed leaves the warehouse as it was. The same content ingested twice is skipped, and
loading is an idempotent merge anyway. Bad rows are quarantined with every reason and their line
number; nothing is dropped silently.

    land -> parse -> map columns -> validate -> normalise -> resolve ids -> load -> curate
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Final

import duckdb

from core.errors import EncoreError, QualityGateError, SourceError
from core.schemas import ENTITY_SCHEMAS
from core.settings import Settings
from pipelines.catalog import record_dataset, refresh_warehouse_entries
from pipelines.lake import Lake, open_lake
from pipelines.lake.base import curated_key, raw_key, sha256_of
from pipelines.ledger import Run, RunLedger
from pipelines.marts import refresh_concert_performance
from pipelines.monitoring import open_monitor, record_run
from pipelines.quality import assess
from pipelines.sinks.warehouse import upsert
from pipelines.sources.files import ParsedFile, read_file
from pipelines.transforms.aliases import infer_entity, map_columns
from pipelines.transforms.normalize import FIELD_NORMALISERS, match_key
from pipelines.transforms.resolve import RESOLUTIONS, record_links, resolve
from pipelines.transforms.validate import validation_sql

log = logging.getLogger(__name__)

LOAD_ORDER: Final = (
    "artists",
    "venues",
    "fans",
    "concert_listings",
    "concerts",
    "ticket_sales",
    "concert_results",
)
"""Parents before children, so a directory of files loads in one pass."""

# foreign keys to translate from source keys to canonical ids: column -> entity it points to
_FOREIGN_KEYS: Final[dict[str, dict[str, str]]] = {
    "concerts": {"artist_id": "artists", "venue_id": "venues"},
    "ticket_sales": {"concert_id": "concerts", "fan_id": "fans"},
    "concert_results": {"concert_id": "concerts"},
}
_PARENT_KEYS: Final = {"artists": "artist_id", "venues": "venue_id", "concerts": "concert_id",
                       "fans": "fan_id"}  # fmt: skip
MAX_ATTEMPTS: Final = 3
_TRANSIENT: Final = (
    duckdb.IOException,
    duckdb.TransactionException,
    duckdb.OutOfMemoryException,
    duckdb.InterruptException,
)
"""Failures worth retrying; a bad query or bad data fails at once."""


@dataclass
class FileOutcome:
    """What happened to one input file."""

    path: Path
    entity: str | None
    status: str  # succeeded, skipped, failed
    run: Run | None = None
    message: str = ""
    quarantine_samples: list[tuple[int | None, list[str]]] = field(default_factory=list)


def expand_inputs(paths: Iterable[Path]) -> list[Path]:
    """Files named directly plus every visible file inside named folders, sorted."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
            )
        elif path.is_file():
            files.append(path)
        else:
            raise SourceError(f"no such file or folder: {path}", path=str(path))
    return files


def ingest_files(
    settings: Settings,
    paths: Iterable[Path],
    *,
    entity: str | None = None,
    source: str = "files",
    force: bool = False,
    lake: Lake | None = None,
    on_file: Callable[[FileOutcome], None] | None = None,
) -> list[FileOutcome]:
    """Ingest files and folders; returns one outcome per file, parents loaded first."""
    from core.warehouse import connect_writer

    lake = lake or open_lake(settings)
    files = expand_inputs(paths)
    con = connect_writer(settings)
    try:
        planned = [(f, entity or _sniff_entity(con, f)) for f in files]
        planned.sort(key=lambda item: LOAD_ORDER.index(item[1]) if item[1] in LOAD_ORDER else 99)
        outcomes = []
        for path, file_entity in planned:
            outcome = _ingest_one(settings, con, lake, path, file_entity, source, force)
            outcomes.append(outcome)
            if on_file:
                on_file(outcome)
        return outcomes
    finally:
        con.close()


def _sniff_entity(con: duckdb.DuckDBPyConnection, path: Path) -> str:
    try:
        parsed = read_file(con, path, table="_sniff")
    except EncoreError:
        return "unknown"
    con.execute("DROP TABLE IF EXISTS _sniff")
    try:
        return infer_entity(parsed.columns)
    except SourceError:
        return "unknown"


def _ingest_one(
    settings: Settings,
    con: duckdb.DuckDBPyConnection,
    lake: Lake,
    path: Path,
    entity: str,
    source: str,
    force: bool,
) -> FileOutcome:
    ledger = RunLedger(con)
    if entity not in ENTITY_SCHEMAS:
        return FileOutcome(
            path, None, "failed",
            message=f"cannot tell which entity {path.name} holds; pass --entity",
        )  # fmt: skip
    digest = sha256_of(path)
    earlier = ledger.succeeded_with(digest, entity)
    if earlier and not force:
        return FileOutcome(path, entity, "skipped", message=f"same content loaded by run {earlier}")
    inputs = [{"uri": str(path.resolve()), "sha256": digest, "bytes": path.stat().st_size}]
    run = ledger.start("ingest", source, entity, inputs)
    started = time.perf_counter()
    exhausted = False
    try:
        landed = lake.put("raw", raw_key(source, date.today(), run.run_id, path.name), path)
        run.inputs[0]["raw_uri"] = landed.uri
        for attempt in range(1, MAX_ATTEMPTS + 1):
            run.attempts = attempt
            try:
                samples = _transform_and_load(
                    con, lake, path, entity, source, run, settings.max_quarantine_rate
                )
                break
            except _TRANSIENT as exc:  # engine trouble that may pass: retry from a clean state
                _rollback(con)
                if attempt == MAX_ATTEMPTS:
                    exhausted = True
                    raise SourceError(
                        f"loading {path.name} failed after {attempt} attempts: {exc}"
                    ) from exc
                log.warning("attempt %d for %s failed (%s); retrying", attempt, path.name, exc)
                time.sleep(0.2 * 2**attempt)
    except (EncoreError, duckdb.Error) as exc:  # the run fails; the next file still runs
        _rollback(con)
        ledger.finish(run, "failed", error=str(exc))
        _report(settings, con, run, entity, started, failed=True, retries_exhausted=exhausted)
        return FileOutcome(path, entity, "failed", run, message=str(exc))
    _report(settings, con, run, entity, started, failed=False, retries_exhausted=False)
    log.info("ingested %s as %s in %.2fs", path.name, entity, time.perf_counter() - started)
    return FileOutcome(path, entity, "succeeded", run, quarantine_samples=samples)


def _report(
    settings: Settings,
    con: duckdb.DuckDBPyConnection,
    run: Run,
    entity: str,
    started: float,
    *,
    failed: bool,
    retries_exhausted: bool,
) -> None:
    """Record the run's metrics and raise the alerts its rules call for (5.1, 5.3)."""
    metrics = {
        "records_in": run.records_in,
        "accepted": run.accepted,
        "quarantined": run.quarantined,
        "quarantine_rate": run.quarantine_rate,
        "inserted": run.inserted,
        "updated": run.updated,
        "duration_s": time.perf_counter() - started,
        "run_failed": float(failed),
        "retries_exhausted": float(retries_exhausted),
    }
    record_run(
        open_monitor(settings, con),
        metrics,
        run_id=run.run_id,
        source=f"ingest:{run.source}",
        dimensions={"pipeline": "ingest", "entity": entity},
    )


def _transform_and_load(
    con: duckdb.DuckDBPyConnection,
    lake: Lake,
    raw: Path,
    entity: str,
    source: str,
    run: Run,
    max_quarantine_rate: float,
) -> list[tuple[int | None, list[str]]]:
    schema = ENTITY_SCHEMAS[entity]
    _drop_scratch(con)
    parsed = read_file(con, raw, table="_raw")
    mapping = map_columns(parsed.columns, entity)
    if not mapping:
        raise SourceError(
            f"none of the columns {parsed.columns} of {raw.name} fit {entity}",
            columns=parsed.columns,
        )
    # rename to schema fields, normalising text on the way in
    projections = [
        f'{FIELD_NORMALISERS.get(field_name, lambda e: e)(_quoted(column))} AS "{field_name}"'
        for column, field_name in mapping.items()
    ]
    mapped = f"(SELECT {', '.join(projections)}, _line FROM _raw) AS mapped"
    checked = validation_sql(schema, mapped, list(mapping.values()), keep=["_line"])
    fields = list(schema.model_fields)
    key = fields[0]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _validated AS "
        + _foreign_key_sql(entity, source, f"({checked})")
    )
    repeated = (
        None
        if entity == "concert_listings"
        else con.execute(  # listings have no key
            f"SELECT count(*) FROM (SELECT {key} FROM _validated GROUP BY 1 HAVING count(*) > 1)"
        ).fetchone()
    )
    if repeated and repeated[0]:  # rare: rank the rows only when a key repeats
        con.execute("ALTER TABLE _validated RENAME TO _undeduplicated")
        con.execute("CREATE TEMP TABLE _validated AS " + _duplicate_key_sql(key, "_undeduplicated"))
        con.execute("DROP TABLE _undeduplicated")

    run.records_in = parsed.rows + len(parsed.rejects)
    con.execute("BEGIN TRANSACTION")
    # the whole row as it was read, for the quarantine (built for bad rows only: it is costly)
    record = ", ".join(f"{_quoted(c)} := r.{_quoted(c)}" for c in parsed.columns)
    con.execute(
        "INSERT INTO quarantine (run_id, entity, source, input_uri, line_number, record, reasons) "
        f"SELECT ?, ?, ?, ?, v._line, to_json(struct_pack({record})), v._reasons "
        "FROM _validated v JOIN _raw r USING (_line) WHERE len(v._reasons) > 0",
        [run.run_id, entity, source, str(raw)],
    )
    for reject in parsed.rejects:
        con.execute(
            "INSERT INTO quarantine "
            "(run_id, entity, source, input_uri, line_number, record, reasons) "
            "VALUES (?, ?, ?, ?, ?, to_json(?), [?])",
            [run.run_id, entity, source, str(raw), reject.line_number, reject.text, reject.reason],
        )
    counts = con.execute(
        "SELECT count(*) FILTER (WHERE len(_reasons) = 0), "
        "count(*) FILTER (WHERE len(_reasons) > 0) FROM _validated"
    ).fetchone()
    run.accepted, run.quarantined = (
        (int(counts[0]), int(counts[1] + len(parsed.rejects))) if counts else (0, 0)
    )
    if run.quarantine_rate > max_quarantine_rate:
        # a file mostly of bad rows is more likely the wrong file than bad data: keep the
        # evidence, load nothing
        message = (
            f"{run.quarantine_rate:.0%} of the rows failed validation, over the "
            f"{max_quarantine_rate:.0%} limit; nothing was loaded (see the quarantine)"
        )
        RunLedger(con).finish(run, "failed", error=message)
        con.execute("COMMIT")
        raise QualityGateError(message, run_id=run.run_id)
    con.execute(
        "CREATE OR REPLACE TEMP VIEW _clean AS SELECT * EXCLUDE (_reasons) "
        "FROM _validated WHERE len(_reasons) = 0"
    )
    run.inserted, run.updated = _load(con, entity, source, run, fields)
    if entity in {"concerts", "ticket_sales", "concert_results", "venues"}:
        refresh_concert_performance(con)
    _catalog_lake(con, lake, parsed, entity, source, run)
    refresh_warehouse_entries(con, str(raw))
    assess(con, run.run_id)
    RunLedger(con).finish(run, "succeeded")
    con.execute("COMMIT")
    _curate(con, lake, entity, run)
    samples = con.execute(
        "SELECT _line, _reasons FROM _validated WHERE len(_reasons) > 0 ORDER BY _line LIMIT 5"
    ).fetchall()
    return [(line, list(reasons)) for line, reasons in samples]


def _duplicate_key_sql(key: str, rows: str) -> str:
    """Flag every row but one of each key: the first valid row wins, the rest are quarantined."""
    return f"""
        SELECT * EXCLUDE (_reasons, _first), CASE WHEN {key} IS NOT NULL AND _first <> _line
            THEN list_append(_reasons, '{key}: duplicate_key (also on line ' || _first || ')')
            ELSE _reasons END AS _reasons
        FROM (SELECT *, first(_line) OVER (PARTITION BY {key}
                  ORDER BY len(_reasons) > 0, _line) AS _first FROM {rows})
    """


def _foreign_key_sql(entity: str, source: str, checked: str) -> str:
    """SELECT the rows of `checked` with foreign keys made canonical and orphans flagged.

    A source key maps through `entity_map` (this source's links), else is taken as canonical
    when that id exists (the primary source's ids are canonical); otherwise it is an orphan.
    """
    refs = _FOREIGN_KEYS.get(entity, {})
    if not refs:
        return f"SELECT * FROM {checked}"
    joins, canonical, reasons = [], [], []
    quoted_source = "'" + source.replace("'", "''") + "'"
    for i, (column, parent) in enumerate(refs.items()):
        id_column = _PARENT_KEYS[parent]
        parent_ref = f"p{i}.{id_column}"
        if parent in RESOLUTIONS:
            joins.append(
                f"LEFT JOIN entity_map m{i} ON m{i}.entity_type = "
                f"'{RESOLUTIONS[parent].entity_type}' AND m{i}.source = {quoted_source} "
                f"AND m{i}.source_key = v.{column}"
            )
            target = f"coalesce(m{i}.canonical_id, v.{column})"
            joins.append(f"LEFT JOIN {parent} p{i} ON p{i}.{id_column} = {target}")
        else:
            joins.append(f"LEFT JOIN {parent} p{i} ON p{i}.{id_column} = v.{column}")
        canonical.append(f'{parent_ref} AS "{column}"')
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


def _load(
    con: duckdb.DuckDBPyConnection, entity: str, source: str, run: Run, fields: list[str]
) -> tuple[int, int]:
    if entity in RESOLUTIONS:
        return _resolve_and_upsert(con, entity, source, run, "_clean", fields)
    if entity == "concert_results":
        return _load_box_scores(con, source, run)
    if entity == "concert_listings":
        return _load_listings(con, source, run)
    key = fields[0]
    return upsert(con, entity, "_clean", key, fields)


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


def _load_listings(con: duckdb.DuckDBPyConnection, source: str, run: Run) -> tuple[int, int]:
    """Resolve (or found) each listing's artist and venue, then its concert.

    Source keys are the names as listed (artist; venue|city; artist|venue|city|date), so a
    listing seen again maps to the same entities.
    """
    venue_key = "venue || '|' || city"
    stages = {
        "artists": """SELECT artist AS artist_id, artist AS name, NULL::VARCHAR AS genre,
                NULL::VARCHAR AS country, NULL::SMALLINT AS popularity, NULL::BIGINT AS followers,
                NULL::SMALLINT AS formed_year, NULL::VARCHAR AS spotify_id, min(_line) AS _line
            FROM _clean GROUP BY artist""",
        "venues": f"""SELECT {venue_key} AS venue_id, any_value(venue) AS name,
                any_value(city) AS city, any_value(state) AS state, any_value(country) AS country,
                avg(latitude) AS latitude, avg(longitude) AS longitude, NULL::INTEGER AS capacity,
                NULL::VARCHAR AS venue_type, NULL::VARCHAR AS ticketmaster_id, min(_line) AS _line
            FROM _clean GROUP BY {venue_key}""",
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
               NULL::DECIMAL(10, 2) AS price_max, _line
        FROM _clean c
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

    A box score whose concert cannot be found is quarantined: it says so and names the concert.
    """
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
        "CREATE OR REPLACE TEMP TABLE _results_rows AS SELECT _concert AS concert_id, shows, "
        "tickets_sold, capacity, gross AS gross_revenue, ? AS source FROM _results "
        "WHERE _concert IS NOT NULL "
        "QUALIFY row_number() OVER (PARTITION BY _concert ORDER BY _line) = 1",
        [source],
    )
    columns = ["concert_id", "shows", "tickets_sold", "capacity", "gross_revenue", "source"]
    return upsert(con, "concert_results", "_results_rows", "concert_id", columns)


def _catalog_lake(
    con: duckdb.DuckDBPyConnection,
    lake: Lake,
    parsed: ParsedFile,
    entity: str,
    source: str,
    run: Run,
) -> None:
    """Catalog the raw dataset this run added to and the curated partition it writes."""
    day = f"dt={date.today().isoformat()}"
    record_dataset(
        con, f"raw/{source}", zone="raw", location=lake.uri("raw", f"source={source}"),
        fmt=parsed.format, schema=dict.fromkeys(parsed.columns, "VARCHAR"), partitions=[day],
        rows=run.records_in,
    )  # fmt: skip
    columns = con.execute("SELECT column_name, column_type FROM (DESCRIBE _clean)").fetchall()
    record_dataset(
        con, f"curated/{entity}", zone="curated", location=lake.uri("curated", entity),
        fmt="parquet", schema=dict(columns), partitions=[day], rows=run.accepted,
    )  # fmt: skip


def _curate(con: duckdb.DuckDBPyConnection, lake: Lake, entity: str, run: Run) -> None:
    """Write the accepted rows as Parquet to the lake's curated zone."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="encore-curate-") as tmp:
        local = Path(tmp) / "part.parquet"
        con.execute(f"COPY (SELECT * FROM _clean) TO '{local}' (FORMAT parquet, COMPRESSION zstd)")
        lake.put("curated", curated_key(entity, date.today(), run.run_id), local)


_SCRATCH: Final = (
    "_raw",
    "_validated",
    "_clean_resolved",
    "_canonical",
    "_results",
    "_results_rows",
)


def _drop_scratch(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the previous file's working tables (they live in this connection's temp schema)."""
    con.execute("DROP VIEW IF EXISTS _clean")
    for table in _SCRATCH:
        con.execute(f"DROP TABLE IF EXISTS {table}")


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):  # no transaction was open
        con.execute("ROLLBACK")


def _quoted(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'
