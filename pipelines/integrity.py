"""Integrity checks over the warehouse (requirement 2.4), behind `encore check`.

Most rules are read from the warehouse's own catalog (foreign keys, CHECKs, NOT NULLs), so the
checks follow the schema as it evolves and also hold on engines that do not enforce constraints.
The consistency rules below are facts no single constraint can express.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Final, Literal

import duckdb

from core.warehouse import CONTRACT_TABLES, table_counts

Severity = Literal["error", "warning"]

_CONSISTENCY: Final[tuple[tuple[str, str, Severity, str], ...]] = (
    # (table, rule, severity, SQL selecting the offending rows' keys)
    (
        "ticket_sales",
        "sold after the show",
        "error",
        "SELECT s.sale_id FROM ticket_sales s JOIN concerts c USING (concert_id) "
        "WHERE s.sold_at::DATE > c.event_date",
    ),
    (
        "ticket_sales",
        "sold before tickets went on sale",
        "warning",
        "SELECT s.sale_id FROM ticket_sales s JOIN concerts c USING (concert_id) "
        "WHERE s.sold_at::DATE < c.on_sale_date",
    ),
    (
        "ticket_sales",
        "sale for a cancelled concert",
        "warning",
        "SELECT s.sale_id FROM ticket_sales s JOIN concerts c USING (concert_id) "
        "WHERE c.status = 'cancelled'",
    ),
    (
        "concerts",
        "completed but dated in the future",
        "error",
        "SELECT concert_id FROM concerts WHERE status = 'completed' AND event_date > current_date",
    ),
    (
        "concerts",
        "still scheduled a week after its date",
        "warning",
        "SELECT concert_id FROM concerts WHERE status = 'scheduled' "
        "AND event_date < current_date - INTERVAL 7 DAY",
    ),
    (
        "concert_performance",
        "more tickets sold than capacity",
        "error",
        "SELECT concert_id FROM concert_performance WHERE tickets_sold > capacity",
    ),
    (
        "concert_performance",
        "concert missing from concert_performance (refresh needed)",
        "error",
        "SELECT concert_id FROM concerts ANTI JOIN concert_performance USING (concert_id)",
    ),
    (
        "concert_performance",
        "disagrees with ticket_sales (refresh needed)",
        "error",
        "SELECT p.concert_id FROM concert_performance p JOIN (SELECT concert_id, "
        "sum(quantity) AS n FROM ticket_sales GROUP BY ALL) s USING (concert_id) "
        "WHERE p.tickets_sold <> s.n",
    ),
)
_EXAMPLES: Final = 5

LOGICAL_KEYS: Final[dict[str, str]] = {"ticket_sales": "sale_id"}
"""Primary keys the loaders keep but the warehouse does not enforce (see migration 0001)."""
LOGICAL_FOREIGN_KEYS: Final[tuple[tuple[str, str, str, str], ...]] = (
    ("ticket_sales", "concert_id", "concerts", "concert_id"),
    ("ticket_sales", "fan_id", "fans", "fan_id"),
    # not declared so that concerts can be updated (migration 0007)
    ("concert_results", "concert_id", "concerts", "concert_id"),
    ("concert_performance", "concert_id", "concerts", "concert_id"),
)
"""Unenforced references: (table, column, parent, parent column)."""


@dataclass(frozen=True)
class Finding:
    """One rule checked on one table: how many rows break it, with a few of their keys."""

    table: str
    kind: Literal["orphans", "nulls", "range", "duplicates", "consistency"]
    rule: str
    severity: Severity
    rows: int
    examples: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class IntegrityReport:
    counts: dict[str, int]
    findings: list[Finding]

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.rows > 0]

    @property
    def ok(self) -> bool:
        """False when any error-level rule is broken (warnings do not fail a check)."""
        return not any(f.severity == "error" for f in self.problems)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "counts": self.counts,
            "findings": [asdict(f) for f in self.findings],
        }


def check_warehouse(con: duckdb.DuckDBPyConnection) -> IntegrityReport:
    """Run every integrity rule and return the report (nothing is changed)."""
    findings = [*_orphans(con), *_nulls(con), *_ranges(con), *_duplicates(con)]
    findings += [
        _finding(con, table, "consistency", rule, severity, sql)
        for table, rule, severity, sql in _CONSISTENCY
    ]
    return IntegrityReport(counts=table_counts(con), findings=findings)


def _primary_key(con: duckdb.DuckDBPyConnection, table: str) -> str:
    if table in LOGICAL_KEYS:
        return LOGICAL_KEYS[table]
    row = con.execute(
        "SELECT constraint_column_names[1] FROM duckdb_constraints() "
        "WHERE table_name = ? AND constraint_type = 'PRIMARY KEY'",
        [table],
    ).fetchone()
    return str(row[0]) if row else "rowid"


def _constraints(con: duckdb.DuckDBPyConnection, kind: str) -> list[tuple[Any, ...]]:
    return con.execute(
        "SELECT table_name, constraint_column_names, referenced_table, "
        "referenced_column_names, expression FROM duckdb_constraints() "
        "WHERE constraint_type = ? AND table_name IN (SELECT unnest(?)) ORDER BY ALL",
        [kind, list(CONTRACT_TABLES)],
    ).fetchall()


def _orphans(con: duckdb.DuckDBPyConnection) -> list[Finding]:
    out = []
    declared = [(t, c[0], p, pc[0]) for t, c, p, pc, _ in _constraints(con, "FOREIGN KEY")]
    for table, col, parent, parent_col in [*declared, *LOGICAL_FOREIGN_KEYS]:
        key = _primary_key(con, table)
        sql = (
            f'SELECT t."{key}" FROM {table} t WHERE t."{col}" IS NOT NULL AND NOT EXISTS '
            f'(SELECT 1 FROM {parent} p WHERE p."{parent_col}" = t."{col}")'
        )
        rule = f"{col} must exist in {parent}.{parent_col}"
        out.append(_finding(con, table, "orphans", rule, "error", sql))
    return out


def _duplicates(con: duckdb.DuckDBPyConnection) -> list[Finding]:
    findings = []
    for table, key in LOGICAL_KEYS.items():
        sql = f"SELECT {key} FROM {table} GROUP BY {key} HAVING count(*) > 1"
        findings.append(_finding(con, table, "duplicates", f"{key} is unique", "error", sql))
    return findings


def _nulls(con: duckdb.DuckDBPyConnection) -> list[Finding]:
    out = []
    required = con.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE is_nullable = 'NO' AND table_name IN (SELECT unnest(?)) "
        "ORDER BY table_name, ordinal_position",
        [list(CONTRACT_TABLES)],
    ).fetchall()
    for table, column in required:
        key = _primary_key(con, table)
        sql = f'SELECT "{key}" FROM {table} WHERE "{column}" IS NULL'
        out.append(_finding(con, table, "nulls", f"{column} is required", "error", sql))
    return out


def _ranges(con: duckdb.DuckDBPyConnection) -> list[Finding]:
    out = []
    for table, _, _, _, expression in _constraints(con, "CHECK"):
        key = _primary_key(con, table)
        # a CHECK passes on NULL, so only rows where it is false break it
        sql = f'SELECT "{key}" FROM {table} WHERE NOT coalesce({expression}, true)'
        out.append(_finding(con, table, "range", expression, "error", sql))
    return out


def _finding(
    con: duckdb.DuckDBPyConnection,
    table: str,
    kind: Literal["orphans", "nulls", "range", "duplicates", "consistency"],
    rule: str,
    severity: Severity,
    sql: str,
) -> Finding:
    row = con.execute(f"SELECT count(*) FROM ({sql})").fetchone()
    rows = int(row[0]) if row else 0
    examples = []
    if rows:
        examples = [str(r[0]) for r in con.execute(f"{sql} LIMIT {_EXAMPLES}").fetchall()]
    return Finding(table, kind, rule, severity, rows, examples)
