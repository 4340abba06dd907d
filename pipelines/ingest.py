"""File ingestion: land raw, parse, map headers, validate, quarantine, normalise, resolve, load.

Each file is one run, recorded in the ledger, and loaded in one transaction: a run that fails
or is killed leaves the warehouse as it was. The same content ingested twice is skipped, and
loading is an idempotent merge anyway. Bad rows are quarantined with every reason and their line
number; nothing is dropped silently.

    land -> parse + map columns + normalise + validate -> references -> resolve ids -> load
         -> curate

Parsing, mapping, normalising and validating are one pass (`pipelines.transforms.validating`):
the rows are stored once, typed, with their text kept only where they fail. This module runs a
file's steps; `pipelines.load` holds how each entity is merged.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final

import duckdb

from core.errors import EncoreError, QualityGateError, SourceError
from core.schemas import ENTITY_SCHEMAS
from core.settings import Settings
from core.warehouse import connect_writer, quote_ident
from pipelines.catalog import Dataset, record_datasets, warehouse_entries
from pipelines.lake import Lake, LakeObject, open_lake
from pipelines.lake.base import curated_key, raw_key, sha256_of
from pipelines.ledger import Run, RunLedger
from pipelines.load import (
    duplicate_key_sql,
    foreign_key_sql,
    linked_parents,
    load_records,
    orphans_sql,
)
from pipelines.marts import before_load, refresh_concert_performance
from pipelines.monitoring import open_monitor, record_run
from pipelines.quality import Loaded, assess
from pipelines.sources.files import (
    CsvPlan,
    ParsedFile,
    detect_format,
    drop_table,
    plan_file,
    read_file,
)
from pipelines.transforms.aliases import infer_entity
from pipelines.transforms.validating import RECORD, Validation

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

WRITES: Final[dict[str, tuple[str, ...]]] = {
    "artists": ("artists",),
    "venues": ("venues", "concert_performance"),
    "fans": ("fans",),
    "concert_listings": ("artists", "venues", "concerts", "concert_performance"),
    "concerts": ("concerts", "concert_performance"),
    "ticket_sales": ("ticket_sales", "concert_performance"),
    "concert_results": (
        "concert_results", "artists", "venues", "concerts", "concert_performance",
    ),
}  # fmt: skip
"""The warehouse tables a file of each entity can change (the quality checks that run after)."""

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
    alerts_per_file: bool = True,
) -> list[FileOutcome]:
    """Ingest files and folders; returns one outcome per file, parents loaded first.

    Alerts are per input file, so in one batch a good file does not resolve a bad file's alert.
    A stream batch or API response is a file the pipeline wrote under a new name each time: its
    caller passes `alerts_per_file=False`, so that its alerts belong to the source and entity
    and the next healthy batch resolves them.
    """
    lake = lake or open_lake(settings)
    files = expand_inputs(paths)
    con = connect_writer(settings)
    # The validated rows live in an in-memory database of this call's own (not this connection's
    # temp schema), so that a second connection can write them as Parquet during the load.
    scratch = f"encore_scratch_{uuid.uuid4().hex[:12]}"
    try:
        con.execute(f"ATTACH ':memory:' AS {scratch}")
        planned = [(f, entity or _sniff_entity(con, f)) for f in files]
        planned.sort(key=lambda item: LOAD_ORDER.index(item[1]) if item[1] in LOAD_ORDER else 99)
        outcomes = []
        for path, file_entity in planned:
            outcome = _ingest_one(settings, con, lake, path, file_entity, source, force,
                                  scratch, alerts_per_file)  # fmt: skip
            outcomes.append(outcome)
            if on_file:
                on_file(outcome)
        return outcomes
    finally:
        with contextlib.suppress(duckdb.Error):
            con.execute(f"DETACH {scratch}")
        con.close()


def _sniff_entity(con: duckdb.DuckDBPyConnection, path: Path) -> str:
    """The entity a file holds, from its columns ("unknown" when they fit none)."""
    try:
        if detect_format(path) == "csv":  # the header is enough: DuckDB's sniffer reads it
            row = con.execute("SELECT Columns FROM sniff_csv(?)", [str(path)]).fetchone()
            columns = [c["name"] for c in row[0]] if row else []
        else:
            columns = read_file(con, path, table="_sniff").columns
            drop_table(con, "_sniff")
        return infer_entity(columns)
    except (EncoreError, duckdb.Error):
        return "unknown"


def _ingest_one(
    settings: Settings,
    con: duckdb.DuckDBPyConnection,
    lake: Lake,
    path: Path,
    entity: str,
    source: str,
    force: bool,
    scratch: str,
    alerts_per_file: bool,
) -> FileOutcome:
    ledger = RunLedger(con)
    started = time.perf_counter()
    hashed = path.stat()  # the raw copy must be of the content hashed here (see `_land`)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="encore-hash") as hasher:
        hashing = hasher.submit(sha256_of, path)  # hashlib and file reads leave the GIL
        plan = plan_file(con, path) if entity in ENTITY_SCHEMAS else None
        digest = hashing.result()
    inputs = [{"uri": str(path.resolve()), "sha256": digest, "bytes": path.stat().st_size}]
    if entity not in ENTITY_SCHEMAS:  # a failed run all the same: recorded, measured, alerted
        message = f"cannot tell which entity {path.name} holds; pass --entity"
        run = ledger.start("ingest", source, None, inputs)
        ledger.finish(run, "failed", error=message)
        _report(settings, con, run, "unknown", started, alerts_per_file,
                failed=True, retries_exhausted=False)  # fmt: skip
        return FileOutcome(path, None, "failed", run, message=message)
    earlier = ledger.succeeded_with(digest, entity)
    if earlier and not force:
        return FileOutcome(path, entity, "skipped", message=f"same content loaded by run {earlier}")
    run = ledger.start("ingest", source, entity, inputs)
    run.timings["hash"] = time.perf_counter() - started
    exhausted = False
    # the raw copy lands while DuckDB parses (both mostly outside the GIL); the load waits for it
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="encore-land")
    landing = pool.submit(
        _land, lake, raw_key(source, date.today(), run.run_id, path.name), path, digest, hashed
    )
    pool.shutdown(wait=False)
    try:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            run.attempts = attempt
            try:
                samples = _transform_and_load(
                    con, lake, path, entity, source, run, settings.max_quarantine_rate, landing,
                    scratch, plan,
                )  # fmt: skip
                plan = None  # a retry reads the file afresh
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
        with contextlib.suppress(EncoreError, OSError):  # the raw copy is evidence too
            _landed(run, landing)
        ledger.finish(run, "failed", error=str(exc))
        _report(settings, con, run, entity, started, alerts_per_file,
                failed=True, retries_exhausted=exhausted)  # fmt: skip
        return FileOutcome(path, entity, "failed", run, message=str(exc))
    _report(settings, con, run, entity, started, alerts_per_file,
            failed=False, retries_exhausted=False)  # fmt: skip
    log.info("ingested %s as %s in %.2fs", path.name, entity, time.perf_counter() - started)
    unused = run.inputs[0].get("unused_columns") or []
    message = (
        f"{len(unused)} column(s) not loaded, no field of {entity} has their name: "
        + ", ".join(unused)
        if unused
        else ""
    )
    return FileOutcome(path, entity, "succeeded", run, message=message, quarantine_samples=samples)


def _land(lake: Lake, key: str, path: Path, digest: str, hashed: os.stat_result) -> LakeObject:
    """Copy `path` to the raw zone; a file written to since it was hashed is refused, as the
    copy would not hold what the ledger records."""
    stored = lake.put("raw", key, path, sha256=digest)
    now = path.stat()
    if (now.st_size, now.st_mtime_ns) != (hashed.st_size, hashed.st_mtime_ns):
        raise SourceError(f"{path} changed while it was being ingested; ingest it again")
    return stored


def _landed(run: Run, landing: Future[LakeObject]) -> None:
    """Wait for the raw copy and record where it landed (its failure fails the run)."""
    run.inputs[0]["raw_uri"] = landing.result().uri


def _report(
    settings: Settings,
    con: duckdb.DuckDBPyConnection,
    run: Run,
    entity: str,
    started: float,
    alerts_per_file: bool,
    *,
    failed: bool,
    retries_exhausted: bool,
) -> None:
    """Record the run's metrics and raise the alerts its rules call for (5.1, 5.3), per input
    file unless `alerts_per_file` is off (see `ingest_files`)."""
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
        scope={"input": run.inputs[0]["uri"]} if alerts_per_file else None,
    )


def _transform_and_load(
    con: duckdb.DuckDBPyConnection,
    lake: Lake,
    raw: Path,
    entity: str,
    source: str,
    run: Run,
    max_quarantine_rate: float,
    landing: Future[LakeObject],
    scratch: str,
    plan: CsvPlan | None,
) -> list[tuple[int | None, list[str]]]:
    schema = ENTITY_SCHEMAS[entity]
    _drop_scratch(con, scratch)
    validation = Validation(entity, raw)
    with _step(run, "read and validate"):  # the text is checked as it is parsed, stored once
        parsed = read_file(con, raw, table="_raw", transform=validation, into=scratch, plan=plan)
    mapping = validation.mapping(parsed.columns)  # (a file without columns was never mapped)
    # kept in the ledger with the input and said in the outcome: a column is never dropped silently
    run.inputs[0]["unused_columns"] = [c for c in parsed.columns if c not in mapping]
    fields = list(schema.model_fields)
    key = fields[0]
    with _step(run, "references and keys"):
        # the key scan reads only the key, which the reference check leaves as it is
        with _scanning_keys(con, entity, key, parsed.relation) as keys:
            validated = _check_references(con, entity, source, parsed.relation, scratch)
        validated, key_range = _flag_duplicate_keys(con, key, validated, scratch, keys.result())

    run.records_in = parsed.rows + len(parsed.rejects)
    with _step(run, "raw landing (wait)"):
        _landed(run, landing)
    accepted = f"SELECT * EXCLUDE (_reasons, {RECORD}) FROM {validated} WHERE len(_reasons) = 0"
    with _any_order(con), _curating(con, accepted) as parquet:
        con.execute("BEGIN TRANSACTION")
        with _step(run, "quarantine"):
            _quarantine(con, parsed, mapping, entity, source, run, validated)
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
        con.execute(f"CREATE OR REPLACE TEMP VIEW _clean AS {accepted}")
        with _step(run, "concert_performance"):  # whether a sales batch only appends
            batch = before_load(con, entity, bounds=key_range)
        with _step(run, "load"):
            run.inserted, run.updated = load_records(
                con, entity, source, run, fields, appends=batch.appends
            )
        if "concert_performance" in WRITES[entity]:
            with _step(run, "concert_performance"):
                refresh_concert_performance(con, batch)
        with _step(run, "catalog"):
            _catalog(con, lake, parsed, entity, source, run)
        with _step(run, "quality"):
            assess(
                con,
                run.run_id,
                tables=(*WRITES[entity], "pipeline_runs"),
                loaded=Loaded(entity, source),
            )
        with _step(run, "curated parquet (wait)"):
            local = parquet.result()  # a failed write fails the run before anything commits
        with _step(run, "commit"):
            RunLedger(con).finish(run, "succeeded")
            con.execute("COMMIT")
        with _step(run, "curated put"):
            lake.put("curated", curated_key(entity, date.today(), run.run_id), local)
    samples = con.execute(
        f"SELECT _line, _reasons FROM {validated} WHERE len(_reasons) > 0 ORDER BY _line LIMIT 5"
    ).fetchall()
    return [(line, list(reasons)) for line, reasons in samples]


@contextlib.contextmanager
def _any_order(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Let DuckDB write the validated rows in any order (a global setting: restored after).

    The file's order is kept where it matters, in the scratch table (`_line`, and the first of
    two rows with one key wins); its row groups are then those of the parse, many not full. An
    order-keeping insert would carry them into the warehouse as they are, and the checkpoint
    would merge them again (0.27 s per million sales); an insert in any order fills each
    row group as it goes.
    """
    (before,) = con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0]
    con.execute("SET preserve_insertion_order = false")
    try:
        yield
    finally:
        con.execute(f"SET preserve_insertion_order = {str(bool(before)).lower()}")


@contextlib.contextmanager
def _curating(con: duckdb.DuckDBPyConnection, accepted: str) -> Iterator[Future[Path]]:
    """Write `accepted` to a local Parquet file in a thread, on a connection of its own.

    The curated copy is written while this connection loads the warehouse (DuckDB works outside
    the GIL); the file is removed on leaving the block, so put it in the lake before that.
    """
    with tempfile.TemporaryDirectory(prefix="encore-curate-") as tmp:
        local = Path(tmp) / "part.parquet"
        cursor = con.cursor()
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="encore-curate")
        try:
            yield pool.submit(_write_parquet, cursor, accepted, local)
        finally:
            pool.shutdown(wait=True)  # never leave the thread reading dropped tables
            cursor.close()


def _write_parquet(cursor: duckdb.DuckDBPyConnection, query: str, local: Path) -> Path:
    # zstd's fastest level: 15% less CPU than its default for files 12% larger (1M sales).
    # Columns with over 1,000 distinct values in a row group are written plain: building their
    # dictionaries and dropping them cost 10% of the write, and zstd packs them as small.
    cursor.execute(
        f"COPY ({query}) TO '{local}' (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1, "
        "DICTIONARY_SIZE_LIMIT 1000)"
    )
    return local


@contextlib.contextmanager
def _step(run: Run, name: str) -> Iterator[None]:
    """Add the time spent in the block to `run.timings[name]`."""
    started = time.perf_counter()
    try:
        yield
    finally:
        run.timings[name] = run.timings.get(name, 0.0) + time.perf_counter() - started


def _check_references(
    con: duckdb.DuckDBPyConnection, entity: str, source: str, rows: str, scratch: str
) -> str:
    """The relation of `rows` with their references to parents checked (see `foreign_key_sql`).

    References from a source with links in entity_map are rewritten to canonical ids, a copy of
    the rows. Others are canonical already: the orphans are looked up apart and, in the usual
    case of none, the rows are used as they are, not copied.
    """
    linked = linked_parents(con, entity, source)
    if linked:
        con.execute(
            f"CREATE TABLE {scratch}._validated AS "
            + foreign_key_sql(entity, source, rows, linked=linked)
        )
        return f"{scratch}._validated"
    orphans = orphans_sql(entity, rows)
    if orphans is None:
        return rows
    con.execute(f"CREATE TABLE {scratch}._orphans AS {orphans}")
    if not con.execute(f"SELECT count(*) FROM {scratch}._orphans").fetchall()[0][0]:
        return rows
    con.execute(
        f"CREATE TABLE {scratch}._validated AS SELECT r.* REPLACE "
        f"(list_concat(r._reasons, coalesce(o._orphaned, [])) AS _reasons) "
        f"FROM {rows} r LEFT JOIN {scratch}._orphans o USING (_line)"
    )
    return f"{scratch}._validated"


@dataclass(frozen=True)
class _KeyScan:
    """One pass over a batch's keys: how many are not above the key before them, and the range.

    None of them means every key is unique, whatever the order the rows were read in (a rising
    sequence cannot repeat). Exports are commonly in key order, which this proves in a single
    cheap pass; in any other order the keys are counted (`_flag_duplicate_keys`).
    """

    not_rising: int
    smallest: Any
    largest: Any


@contextlib.contextmanager
def _scanning_keys(
    con: duckdb.DuckDBPyConnection, entity: str, key: str, rows: str
) -> Iterator[Future[_KeyScan | None]]:
    """Scan `rows`' keys in a thread, on a cursor of its own, while the block runs (the scan
    runs on one core, lag() keeping the rows' order; the block's statements use the rest).
    Listings have no key: the future holds None."""
    sql = (
        f"SELECT count(*) FILTER (WHERE {key} <= _previous), min({key}), max({key}) FROM "
        f"(SELECT {key}, lag({key}) OVER () AS _previous FROM {rows} WHERE {key} IS NOT NULL)"
    )

    def scan(cursor: duckdb.DuckDBPyConnection) -> _KeyScan:
        not_rising, smallest, largest = cursor.execute(sql).fetchall()[0]
        return _KeyScan(int(not_rising), smallest, largest)

    if entity == "concert_listings":
        done: Future[_KeyScan | None] = Future()
        done.set_result(None)
        yield done
        return
    with (
        con.cursor() as cursor,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="encore-keys") as pool,
    ):
        yield pool.submit(scan, cursor)


def _flag_duplicate_keys(
    con: duckdb.DuckDBPyConnection,
    key: str,
    validated: str,
    scratch: str,
    keys: _KeyScan | None,
) -> tuple[str, tuple[Any, Any] | None]:
    """`validated` with all but one row of each key quarantined (listings have no key), and the
    smallest and largest key it holds (for `before_load`)."""
    if keys is None:
        return validated, None
    bounds = (keys.smallest, keys.largest)
    if not keys.not_rising:  # the keys rise: none repeats
        return validated, bounds
    (repeated,) = con.execute(
        f"SELECT count({key}) - count(DISTINCT {key}) FROM {validated}"
    ).fetchall()[0]
    if not repeated:  # rare: rank the rows only when a key repeats
        return validated, bounds
    con.execute(f"CREATE TABLE {scratch}._deduplicated AS " + duplicate_key_sql(key, validated))
    return f"{scratch}._deduplicated", bounds


def _quarantine(
    con: duckdb.DuckDBPyConnection,
    parsed: ParsedFile,
    mapping: dict[str, str],
    entity: str,
    source: str,
    run: Run,
    validated: str,
) -> None:
    """Store the rejected and invalid rows with their reasons; count accepted and quarantined."""
    raw = parsed.path
    # A row that failed validation kept its text as read; one refused later (an orphan, a
    # repeated key) was valid, so its fields tell it under the file's names (the raw zone keeps
    # the file as it came).
    fields = ", ".join(
        f"{quote_ident(column)} := CAST(v.{quote_ident(field)} AS VARCHAR)"
        for column, field in mapping.items()
    )
    con.execute(
        "INSERT INTO quarantine (run_id, entity, source, input_uri, line_number, record, reasons) "
        f"SELECT ?, ?, ?, ?, v._line, coalesce(v.{RECORD}, to_json(struct_pack({fields}))), "
        f"v._reasons FROM {validated} v WHERE len(v._reasons) > 0",
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
        f"count(*) FILTER (WHERE len(_reasons) > 0) FROM {validated}"
    ).fetchone()
    run.accepted, run.quarantined = (
        (int(counts[0]), int(counts[1] + len(parsed.rejects))) if counts else (0, 0)
    )


def _catalog(
    con: duckdb.DuckDBPyConnection,
    lake: Lake,
    parsed: ParsedFile,
    entity: str,
    source: str,
    run: Run,
) -> None:
    """Catalog the raw dataset this run added to, the curated partition it writes and every
    warehouse table."""
    day = f"dt={date.today().isoformat()}"
    # as the Parquet holds them: an ENUM is written as its text
    columns = con.execute(
        "SELECT column_name, CASE WHEN starts_with(column_type, 'ENUM(') THEN 'VARCHAR' "
        "ELSE column_type END FROM (DESCRIBE _clean)"
    ).fetchall()
    lake_entries = [
        Dataset(f"raw/{source}", "raw", lake.uri("raw", f"source={source}"), parsed.format,
                dict.fromkeys(parsed.columns, "VARCHAR"), [day], run.records_in),
        Dataset(f"curated/{entity}", "curated", lake.uri("curated", entity), "parquet",
                dict(columns), [day], run.accepted),
    ]  # fmt: skip
    record_datasets(con, [*lake_entries, *warehouse_entries(con)])


_SCRATCH: Final = (
    "_clean_resolved",
    "_canonical",
    "_results",
    "_results_rows",
)


def _drop_scratch(con: duckdb.DuckDBPyConnection, scratch: str) -> None:
    """Drop the previous file's working tables (in this connection's temp schema and `scratch`)."""
    con.execute("DROP VIEW IF EXISTS _clean")
    drop_table(con, "_raw", scratch)  # a view over the parsed rows, or a table
    for table in _SCRATCH:
        con.execute(f"DROP TABLE IF EXISTS {table}")
    for table in ("_orphans", "_validated", "_deduplicated"):
        con.execute(f"DROP TABLE IF EXISTS {scratch}.{table}")


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):  # no transaction was open
        con.execute("ROLLBACK")
