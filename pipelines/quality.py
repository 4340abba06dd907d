"""Data quality (requirement 2.3): checks per entity, flags on records, a report per run.

Checks: completeness (important facts present), validity (rows quarantined by the run),
uniqueness (the same entity twice), referential integrity, freshness (time since the last load)
and outliers (values far outside what their peers show). Each check has a threshold on the share
of rows it flags; an error-level check over its threshold fails the report.

A report over the warehouse (`encore quality report`, the dashboard) judges every row. A load's
report judges the records the load wrote, each against the whole warehouse: its counts are the
batch's rows and the batch's failing rows, and its flags name the load's own bad records. A
record another load made bad (the sales of a concert whose prices changed) is not one of that
load's records: a report over the warehouse shows it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Final, Literal

import duckdb

from core.warehouse import drop_temp
from pipelines.ledger import utc_now
from pipelines.marts import CHANGED
from pipelines.transforms.normalize import match_key
from pipelines.transforms.resolve import RESOLUTIONS

Severity = Literal["info", "warning", "error"]


ROWS: Final = "{rows}"
"""Stands in a check's SQL for the rows it judges: the whole table, or the rows a load wrote."""
KEYS: Final = {
    "artists": "artist_id", "venues": "venue_id", "concerts": "concert_id", "fans": "fan_id",
    "ticket_sales": "sale_id", "concert_performance": "concert_id",
}  # fmt: skip


@dataclass(frozen=True)
class Check:
    """One quality rule: SQL selecting the keys of flagged rows out of `population` rows."""

    entity: str
    name: str
    dimension: Literal[
        "completeness", "validity", "uniqueness", "integrity", "freshness", "outliers"
    ]
    severity: Severity
    flagged_sql: str  # SELECT key, detail ... FROM {rows} ...
    population_sql: str  # SELECT count(*) FROM {rows}
    threshold: float  # largest acceptable share of flagged rows
    tables: tuple[str, ...] = ()  # what it reads besides `entity` (a change there can change it)
    judged: str | None = None  # the table whose rows it judges, when not `entity`
    validated: bool = False
    """The load's validation quarantines every row this check flags (an orphan reference), so
    the records a load writes pass it by construction and a load's report counts none."""

    @property
    def reads(self) -> frozenset[str]:
        return frozenset((self.entity, *self.tables))

    @property
    def judged_table(self) -> str:
        return self.judged or self.entity


@dataclass(frozen=True)
class CheckResult:
    entity: str
    name: str
    dimension: str
    severity: Severity
    rows: int
    flagged: int
    threshold: float

    @property
    def share(self) -> float:
        return self.flagged / self.rows if self.rows else 0.0

    @property
    def passed(self) -> bool:
        return self.share <= self.threshold


@dataclass(frozen=True)
class QualityReport:
    run_id: str | None
    generated_at: datetime
    results: list[CheckResult]

    @property
    def passed(self) -> bool:
        """False when an error-level check is over its threshold."""
        return all(r.passed for r in self.results if r.severity == "error")

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "generated_at": self.generated_at.isoformat(),
            "passed": self.passed,
            "results": [
                {**asdict(r), "share": round(r.share, 6), "passed": r.passed} for r in self.results
            ],
        }


def _missing(entity: str, key: str, column: str, threshold: float) -> Check:
    return Check(
        entity, f"{column} present", "completeness", "warning",
        f"SELECT {key}, '{column} is unknown' FROM {ROWS} WHERE {column} IS NULL",
        f"SELECT count(*) FROM {ROWS}", threshold,
    )  # fmt: skip


def _unique(entity: str, key: str, what: str, *columns: str) -> Check:
    """Every record after the first (by key) of the ones sharing `columns`' match keys."""
    same = ", ".join(match_key(c) for c in columns)
    return Check(
        entity, f"one record per {entity.removesuffix('s')}", "uniqueness", "warning",
        f"SELECT {key}, 'same {what} as ' || first_key FROM (SELECT {key}, first({key}) OVER w "
        f"AS first_key, row_number() OVER w AS nth FROM {entity} "
        f"WINDOW w AS (PARTITION BY {same} ORDER BY {key})) "
        f"WHERE nth > 1 AND {key} IN (SELECT {key} FROM {ROWS})",
        f"SELECT count(*) FROM {ROWS}", 0.01,
    )  # fmt: skip


CHECKS: Final[tuple[Check, ...]] = (
    _missing("artists", "artist_id", "genre", 0.2),
    _missing("artists", "artist_id", "popularity", 0.5),
    _missing("venues", "venue_id", "capacity", 0.2),
    _missing("venues", "venue_id", "latitude", 0.2),
    _missing("concerts", "concert_id", "price_min", 0.3),
    _unique("artists", "artist_id", "name", "name"),
    _unique("venues", "venue_id", "name and city", "name", "city"),
    Check(
        "ticket_sales", "sale belongs to a known concert", "integrity", "error",
        f"SELECT sale_id, 'no concert ' || concert_id FROM {ROWS} s "
        "WHERE NOT EXISTS (SELECT 1 FROM concerts c WHERE c.concert_id = s.concert_id)",
        f"SELECT count(*) FROM {ROWS}", 0.0, ("concerts",), validated=True,
    ),
    Check(  # not a declared key (migration 0007): a check in its place
        "concert_results", "result belongs to a known concert", "integrity", "error",
        f"SELECT concert_id, 'no concert ' || concert_id FROM {ROWS} r "
        "WHERE NOT EXISTS (SELECT 1 FROM concerts c WHERE c.concert_id = r.concert_id)",
        f"SELECT count(*) FROM {ROWS}", 0.0, ("concerts",), validated=True,
    ),
    Check(
        "concerts", "sold no more than capacity", "validity", "error",
        f"SELECT concert_id, 'sold ' || tickets_sold || ' of ' || capacity FROM {ROWS} "
        "WHERE tickets_sold > capacity",
        f"SELECT count(*) FROM {ROWS}", 0.0, ("concert_performance",),
        judged="concert_performance",
    ),
    Check(
        "ticket_sales", "unit price within the concert's range", "outliers", "warning",
        "SELECT s.sale_id, 'paid ' || s.unit_price || ', range ' || c.price_min || '-' "
        "|| c.price_max "
        f"FROM {ROWS} s JOIN concerts c USING (concert_id) "
        "WHERE s.unit_price > 3 * c.price_max OR s.unit_price < c.price_min / 3",
        f"SELECT count(*) FROM {ROWS}", 0.01, ("concerts",),
    ),
    Check(  # peers: every venue of the type, whichever rows are judged
        "venues", "capacity typical for the venue type", "outliers", "info",
        f"SELECT venue_id, venue_type || ' with capacity ' || capacity FROM {ROWS} v "
        "JOIN (SELECT venue_type, median(capacity) AS m FROM venues GROUP BY 1) USING (venue_type) "
        "WHERE capacity > 10 * m OR capacity < m / 10",
        f"SELECT count(*) FROM {ROWS}", 0.05,
    ),
    Check(
        "pipeline_runs", "loaded within the last 7 days", "freshness", "warning",
        "SELECT entity, 'last load ' || max(finished_at) FROM pipeline_runs "
        "WHERE status = 'succeeded' GROUP BY entity "
        "HAVING max(finished_at) < timezone('UTC', now()) - INTERVAL 7 DAY",
        "SELECT count(DISTINCT entity) FROM pipeline_runs WHERE status = 'succeeded'", 0.0,
    ),
)  # fmt: skip


@dataclass(frozen=True)
class Loaded:
    """What one load wrote: its records (`rows`, a relation) of `entity` from `source`."""

    entity: str
    source: str
    rows: str = "_clean"


def assess(
    con: duckdb.DuckDBPyConnection,
    run_id: str | None = None,
    *,
    record_flags: bool = True,
    tables: Collection[str] | None = None,
    loaded: Loaded | None = None,
) -> QualityReport:
    """Run the checks; with `record_flags`, write the flagged records to `quality_flags`.

    `tables` limits the run to the checks reading one of them; by default every check runs over
    every row. With `loaded` (a load's report), only the checks judging a table in `tables` (the
    ones the load wrote) run, over the records the load wrote there: each result counts those
    records and the ones failing, judged against the whole warehouse, so the run's flags name
    its own bad records and its cost follows the batch. Where the load's keys in a table cannot
    be named (the artists and venues a listing or box score founds), that table is judged whole.
    """
    results = []
    judged: dict[str, str] = {}  # table -> the relation of its rows the load wrote
    counted: dict[str, int] = {}  # population SQL -> its count (checks share populations)
    for check in CHECKS:
        if tables is not None and not _selected(check, tables, loaded is not None):
            continue
        table = check.judged_table
        if table not in judged:
            judged[table] = _judged_rows(con, table, loaded) if loaded else table
        flagged_sql = check.flagged_sql.replace(ROWS, judged[table])
        population = check.population_sql.replace(ROWS, judged[table])
        if population not in counted:
            counted[population] = _scalar(con, population)
        rows = counted[population]
        if check.validated and loaded is not None and table == loaded.entity:
            flagged = 0  # the batch's orphans were quarantined in this very transaction
        else:
            flagged = _scalar(con, f"SELECT count(*) FROM ({flagged_sql})")
        if record_flags and flagged and run_id:
            con.execute(
                "INSERT INTO quality_flags "
                "(run_id, entity, record_key, check_name, severity, detail) "
                f"SELECT ?, ?, CAST(f.k AS VARCHAR), ?, ?, f.d FROM ({flagged_sql}) f(k, d) "
                "LIMIT 10000",
                [run_id, check.entity, check.name, check.severity],
            )
        results.append(
            CheckResult(
                check.entity,
                check.name,
                check.dimension,
                check.severity,
                rows,
                flagged,
                check.threshold,
            )
        )
    for table, relation in judged.items():
        if relation != table:
            drop_temp(con, relation)
    if run_id:
        results.append(_validity_of_run(con, run_id))
    return QualityReport(run_id, utc_now(), results)


def _selected(check: Check, tables: Collection[str], batch: bool) -> bool:
    if batch:  # a load judges the rows it wrote
        return check.judged_table in tables
    return bool(check.reads & set(tables))  # a report re-checks all a change could affect


def _judged_rows(con: duckdb.DuckDBPyConnection, table: str, loaded: Loaded) -> str:
    """A temp table of the rows of `table` that `loaded` wrote (`table` itself when they cannot
    be named). Only the keys' range is read: zone maps skip the rest of the table."""
    relation = f"_judged_{table}"
    if table == loaded.entity and table not in RESOLUTIONS:
        # The batch's own values, not a lookup of its ids in a table without an index (a scan
        # of every id when updates are spread over it): a fact's fields are required, so the
        # merge stored them as they are (only a fan_id the batch leaves out may be kept).
        stored = [str(c) for (c, *_) in con.execute(f"DESCRIBE {table}").fetchall()]
        given = {str(c) for (c, *_) in con.execute(f"DESCRIBE {loaded.rows}").fetchall()}
        columns = ", ".join(c for c in stored if c in given)
        # a view: the batch is in memory already; a copy would add a pass over every row
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {relation} AS SELECT {columns} FROM {loaded.rows}"
        )
        return relation
    keys = _written_keys(con, table, loaded)
    key = KEYS.get(table)
    if keys is None or key is None:
        return table
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _judged_keys AS SELECT DISTINCT k FROM ({keys}) t(k)"
    )
    low, high = con.execute("SELECT min(k), max(k) FROM _judged_keys").fetchone() or (None, None)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {relation} AS SELECT * FROM {table} "
        f"WHERE {key} BETWEEN $low AND $high AND {key} IN (SELECT k FROM _judged_keys)",
        {"low": low, "high": high},
    )
    con.execute("DROP TABLE _judged_keys")
    return relation


def _temp_table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = ?", [name]
    ).fetchone()
    return bool(row and row[0])


def _written_keys(con: duckdb.DuckDBPyConnection, table: str, loaded: Loaded) -> str | None:
    """SQL of the keys of `table` the load wrote; None when they cannot be named."""
    if table == "concert_performance":
        return f"SELECT concert_id FROM {CHANGED}" if _temp_table_exists(con, CHANGED) else None
    if table != loaded.entity or table not in RESOLUTIONS:
        return None
    key = KEYS[table]
    # a record's source key -> the entity it was resolved to (every record has a link by now)
    source = "'" + loaded.source.replace("'", "''") + "'"
    return (
        f"SELECT coalesce(m.canonical_id, b.{key}) FROM {loaded.rows} b LEFT JOIN entity_map m "
        f"ON m.entity_type = '{RESOLUTIONS[table].entity_type}' AND m.source = {source} "
        f"AND m.source_key = b.{key}"
    )


def _validity_of_run(con: duckdb.DuckDBPyConnection, run_id: str) -> CheckResult:
    row = con.execute(
        "SELECT coalesce(entity, '?'), records_in, quarantined FROM pipeline_runs WHERE run_id = ?",
        [run_id],
    ).fetchone()
    entity, rows, quarantined = row if row else ("?", 0, 0)
    return CheckResult(entity, "rows pass validation", "validity", "error", rows, quarantined, 0.5)


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row and row[0] is not None else 0
