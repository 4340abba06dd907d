"""Data quality (requirement 2.3): checks per entity, flags on records, a report per run.

Checks: completeness (important facts present), validity (rows quarantined by the run),
uniqueness (the same entity twice), referential integrity, freshness (time since the last load)
and outliers (values far outside what their peers show). Each check has a threshold on the share
of rows it flags; an error-level check over its threshold fails the report.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Final, Literal

import duckdb

from pipelines.transforms.normalize import match_key

Severity = Literal["info", "warning", "error"]


@dataclass(frozen=True)
class Check:
    """One quality rule: SQL selecting the keys of flagged rows out of `population` rows."""

    entity: str
    name: str
    dimension: Literal[
        "completeness", "validity", "uniqueness", "integrity", "freshness", "outliers"
    ]
    severity: Severity
    flagged_sql: str  # SELECT key, detail ...
    population_sql: str  # SELECT count(*) ...
    threshold: float  # largest acceptable share of flagged rows
    tables: tuple[str, ...] = ()  # what it reads besides `entity` (a change there can change it)

    @property
    def reads(self) -> frozenset[str]:
        return frozenset((self.entity, *self.tables))


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
        f"SELECT {key}, '{column} is unknown' FROM {entity} WHERE {column} IS NULL",
        f"SELECT count(*) FROM {entity}", threshold,
    )  # fmt: skip


CHECKS: Final[tuple[Check, ...]] = (
    _missing("artists", "artist_id", "genre", 0.2),
    _missing("artists", "artist_id", "popularity", 0.5),
    _missing("venues", "venue_id", "capacity", 0.2),
    _missing("venues", "venue_id", "latitude", 0.2),
    _missing("concerts", "concert_id", "price_min", 0.3),
    Check(
        "artists", "one record per artist", "uniqueness", "warning",
        f"SELECT artist_id, 'same name as ' || first(artist_id) OVER w FROM artists "
        f"WINDOW w AS (PARTITION BY {match_key('name')} ORDER BY artist_id) "
        f"QUALIFY row_number() OVER w > 1",
        "SELECT count(*) FROM artists", 0.01,
    ),
    Check(
        "venues", "one record per venue", "uniqueness", "warning",
        f"SELECT venue_id, 'same name and city as ' || first(venue_id) OVER w FROM venues "
        f"WINDOW w AS (PARTITION BY {match_key('name')}, {match_key('city')} ORDER BY venue_id) "
        f"QUALIFY row_number() OVER w > 1",
        "SELECT count(*) FROM venues", 0.01,
    ),
    Check(
        "ticket_sales", "sale belongs to a known concert", "integrity", "error",
        "SELECT sale_id, 'no concert ' || concert_id FROM ticket_sales s "
        "WHERE NOT EXISTS (SELECT 1 FROM concerts c WHERE c.concert_id = s.concert_id)",
        "SELECT count(*) FROM ticket_sales", 0.0, ("concerts",),
    ),
    Check(
        "concerts", "sold no more than capacity", "validity", "error",
        "SELECT concert_id, 'sold ' || tickets_sold || ' of ' || capacity FROM concert_performance "
        "WHERE tickets_sold > capacity",
        "SELECT count(*) FROM concert_performance", 0.0, ("concert_performance",),
    ),
    Check(
        "ticket_sales", "unit price within the concert's range", "outliers", "warning",
        "SELECT s.sale_id, 'paid ' || s.unit_price || ', range ' || c.price_min || '-' "
        "|| c.price_max "
        "FROM ticket_sales s JOIN concerts c USING (concert_id) "
        "WHERE s.unit_price > 3 * c.price_max OR s.unit_price < c.price_min / 3",
        "SELECT count(*) FROM ticket_sales", 0.01, ("concerts",),
    ),
    Check(
        "venues", "capacity typical for the venue type", "outliers", "info",
        "SELECT venue_id, venue_type || ' with capacity ' || capacity FROM venues v "
        "JOIN (SELECT venue_type, median(capacity) AS m FROM venues GROUP BY 1) USING (venue_type) "
        "WHERE capacity > 10 * m OR capacity < m / 10",
        "SELECT count(*) FROM venues", 0.05,
    ),
    Check(
        "pipeline_runs", "loaded within the last 7 days", "freshness", "warning",
        "SELECT entity, 'last load ' || max(finished_at) FROM pipeline_runs "
        "WHERE status = 'succeeded' GROUP BY entity "
        "HAVING max(finished_at) < now() - INTERVAL 7 DAY",
        "SELECT count(DISTINCT entity) FROM pipeline_runs WHERE status = 'succeeded'", 0.0,
    ),
)  # fmt: skip


def assess(
    con: duckdb.DuckDBPyConnection,
    run_id: str | None = None,
    *,
    record_flags: bool = True,
    tables: Collection[str] | None = None,
) -> QualityReport:
    """Run the checks; with `record_flags`, write the flagged records to `quality_flags`.

    `tables` limits the run to the checks reading one of them (a load re-checks only what it
    could have changed); by default every check runs.
    """
    results = []
    for check in CHECKS:
        if tables is not None and not check.reads & set(tables):
            continue
        rows = _scalar(con, check.population_sql)
        flagged = _scalar(con, f"SELECT count(*) FROM ({check.flagged_sql})")
        if record_flags and flagged and run_id:
            con.execute(
                "INSERT INTO quality_flags "
                "(run_id, entity, record_key, check_name, severity, detail) "
                f"SELECT ?, ?, CAST(f.k AS VARCHAR), ?, ?, f.d FROM ({check.flagged_sql}) f(k, d) "
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
    if run_id:
        results.append(_validity_of_run(con, run_id))
    return QualityReport(run_id, datetime.now(), results)


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
