"""Aggregation procedures: marts derived from the entity tables, refreshed after every load.

`concert_performance` is derived whole (a rebuild, an empty mart) or for one load's batch, so
that a load's cost follows the batch, not the tables:

- a ticket-sales load re-derives only the concerts whose sales it changed. Their sold figures
  are the mart's totals plus the batch's difference: the sales it wrote minus the stored sales
  they replaced (kept by `before_load`, as an update can move a sale to another concert);
- a load of another entity (concerts, venues, box scores, listings) re-derives every concert
  from the dimension tables with the sold figures the mart already holds, never reading
  `ticket_sales` (no such load changes a sale).

Both give exactly what the whole derivation gives, as long as the mart agreed with
`ticket_sales` before the load: every load and rebuild refreshes it in its own transaction, and
`encore check` reports a mart that disagrees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import duckdb

CHANGED: Final = "_performance_changed"
"""Temp table of the concert_ids whose row the last refresh wrote or removed."""

_SOLD_FROM_SALES: Final = (
    "SELECT concert_id, sum(quantity) AS tickets, sum(amount) AS gross "
    "FROM ticket_sales GROUP BY concert_id"
)
# The same figures as the mart holds them (in the types of the sums above, so that they derive
# the same prices and shares). A concert has transactions only if it sold: quantity >= 1.
_SOLD_IN_MART: Final = (
    "SELECT concert_id, tickets_sold::HUGEINT AS tickets, gross_revenue::DECIMAL(38, 2) AS gross "
    "FROM concert_performance WHERE results_source = 'transactions'"
)


def _performance_sql(sold: str, where: str = "") -> str:
    # Transactions win over box scores: they are Encore's own records. Concerts with neither
    # (not yet on sale, cancelled, or sold elsewhere without a report) appear with zero sold.
    return f"""
SELECT
    c.concert_id, c.artist_id, c.venue_id, c.event_date, c.status,
    coalesce(r.capacity, v.capacity)                         AS capacity,
    coalesce(s.tickets, r.tickets_sold, 0)                   AS tickets_sold,
    coalesce(s.gross, r.gross_revenue, 0)                    AS gross_revenue,
    round(coalesce(s.gross, r.gross_revenue)
          / nullif(coalesce(s.tickets, r.tickets_sold), 0), 2) AS avg_ticket_price,
    coalesce(s.tickets, r.tickets_sold, 0) / coalesce(r.capacity, v.capacity) AS sell_through,
    CASE WHEN s.tickets IS NOT NULL THEN 'transactions'
         WHEN r.tickets_sold IS NOT NULL THEN 'box_score'
         ELSE 'none' END                                     AS results_source
FROM concerts c
JOIN venues v USING (venue_id)
LEFT JOIN ({sold}) s USING (concert_id)
LEFT JOIN concert_results r USING (concert_id)
{where}
"""


_REFERENCES: Final = ("artist_id", "venue_id")
"""Indexed (foreign keys): updated apart, as DuckDB rewrites a row whose index key is set."""
_FIGURES: Final = (
    "event_date", "status", "capacity", "tickets_sold", "gross_revenue", "avg_ticket_price",
    "sell_through", "results_source",
)  # fmt: skip
_COLUMNS: Final = (*_REFERENCES, *_FIGURES)


@dataclass(frozen=True)
class Batch:
    """A load's records (`rows`, a relation) of `entity`; made by `before_load`."""

    entity: str
    rows: str = "_clean"
    sale_ids: tuple[Any, Any] | None = None
    """The smallest and largest sale_id of a ticket-sales batch (None when it has none)."""


def before_load(con: duckdb.DuckDBPyConnection, entity: str, rows: str = "_clean") -> Batch:
    """Call before loading `rows`: keeps the stored sales a ticket-sales batch will replace."""
    if entity != "ticket_sales":
        return Batch(entity, rows)
    row = con.execute(f"SELECT min(sale_id), max(sale_id) FROM {rows}").fetchone()
    batch = Batch(entity, rows, (row[0], row[1]) if row and row[0] is not None else None)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _sales_replaced AS {_named_sales(batch)}")
    return batch


def _named_sales(batch: Batch) -> str:
    """The stored sales with the batch's sale_ids; only the batch's key range is read (zone
    maps skip the rest, so a batch of new, increasing ids reads next to nothing)."""
    if batch.sale_ids is None:
        return "SELECT concert_id, quantity, amount FROM ticket_sales LIMIT 0"
    low, high = (_literal(k) for k in batch.sale_ids)
    return (
        f"SELECT concert_id, quantity, amount FROM ticket_sales "
        f"WHERE sale_id BETWEEN {low} AND {high} AND sale_id IN (SELECT sale_id FROM {batch.rows})"
    )


def _literal(value: Any) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def refresh_concert_performance(con: duckdb.DuckDBPyConnection, batch: Batch | None = None) -> int:
    """Bring `concert_performance` up to date (inside the load's transaction); return its rows.

    Without `batch` (or when the mart is empty) every concert is derived from `ticket_sales`;
    with one, only what the batch can have changed (see the module's docstring). Either way
    the result is merged: only rows whose figures changed are written (and get a new
    `refreshed_at`), and their ids are left in the temp table `CHANGED`.
    """
    if batch is None or _empty(con):
        _merge(con, _performance_sql(_SOLD_FROM_SALES), scope=None)
    elif batch.entity == "ticket_sales":
        _sales_sold(con, batch)
        if _any_unknown_to_mart(con):  # the mart missed a concert: derive it whole
            _merge(con, _performance_sql(_SOLD_FROM_SALES), scope=None)
        else:
            sql = _performance_sql(
                "SELECT * FROM _sold WHERE tickets > 0",
                "WHERE c.concert_id IN (SELECT concert_id FROM _sold)",
            )
            _merge(con, sql, scope="_sold")
        con.execute("DROP TABLE IF EXISTS _sold")
        con.execute("DROP TABLE IF EXISTS _sales_replaced")
    else:
        _merge(con, _performance_sql(_SOLD_IN_MART), scope=None)
    row = con.execute("SELECT count(*) FROM concert_performance").fetchone()
    return int(row[0]) if row else 0


def _empty(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute("SELECT NOT EXISTS (SELECT 1 FROM concert_performance)").fetchone()
    return bool(row and row[0])


def _sales_sold(con: duckdb.DuckDBPyConnection, batch: Batch) -> None:
    """`_sold`: each concert the batch's sales touch, with its sold figures after the batch."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _sold AS
        WITH delta AS (
            SELECT concert_id, sum(quantity) AS tickets, sum(amount) AS gross FROM (
                {_named_sales(batch)}
                UNION ALL SELECT concert_id, -quantity, -amount FROM _sales_replaced
            ) GROUP BY concert_id
        )
        SELECT d.concert_id, (coalesce(m.tickets, 0) + d.tickets)::HUGEINT AS tickets,
               (coalesce(m.gross, 0) + d.gross)::DECIMAL(38, 2) AS gross
        FROM delta d LEFT JOIN ({_SOLD_IN_MART}) m USING (concert_id)"""
    )


def _any_unknown_to_mart(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether a touched concert has no row in the mart (its earlier sales are not summed)."""
    row = con.execute(
        "SELECT EXISTS (SELECT 1 FROM _sold s JOIN concerts c USING (concert_id) "
        "WHERE NOT EXISTS (SELECT 1 FROM concert_performance p WHERE p.concert_id = s.concert_id))"
    ).fetchone()
    return bool(row and row[0])


def _merge(con: duckdb.DuckDBPyConnection, sql: str, scope: str | None) -> None:
    """Merge the rows `sql` derives into the mart; `scope` (a relation of concert_ids) is what
    it derived, None for every concert. Deleting and re-inserting every row would cost a rewrite
    of the table's key indexes at each commit."""
    # the stored types, so that equal figures compare equal
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _performance AS "
        "SELECT * EXCLUDE (refreshed_at) FROM concert_performance LIMIT 0"
    )
    con.execute(f"INSERT INTO _performance {sql}")
    in_scope = f"t.concert_id IN (SELECT concert_id FROM {scope}) AND " if scope else ""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {CHANGED} AS SELECT concert_id FROM concert_performance t "
        f"WHERE {in_scope}NOT EXISTS "
        "(SELECT 1 FROM _performance n WHERE n.concert_id = t.concert_id)"
    )
    con.execute(
        f"DELETE FROM concert_performance WHERE concert_id IN (SELECT concert_id FROM {CHANGED})"
    )
    same = " AND ".join(f"t.{c} IS NOT DISTINCT FROM n.{c}" for c in _COLUMNS)
    con.execute(  # rows equal to the mart's change nothing
        "DELETE FROM _performance n WHERE EXISTS (SELECT 1 FROM concert_performance t "
        f"WHERE t.concert_id = n.concert_id AND {same})"
    )
    con.execute(f"INSERT INTO {CHANGED} SELECT concert_id FROM _performance")
    for columns in (_REFERENCES, _FIGURES):
        changed = " OR ".join(f"t.{c} IS DISTINCT FROM n.{c}" for c in columns)
        assignments = ", ".join(f"{c} = n.{c}" for c in columns)
        con.execute(
            f"UPDATE concert_performance t SET {assignments}, refreshed_at = now() "
            f"FROM _performance n WHERE t.concert_id = n.concert_id AND ({changed})"
        )
    con.execute(
        f"INSERT INTO concert_performance (concert_id, {', '.join(_COLUMNS)}, refreshed_at) "
        f"SELECT concert_id, {', '.join(_COLUMNS)}, now() FROM _performance n WHERE NOT EXISTS "
        f"(SELECT 1 FROM concert_performance t WHERE t.concert_id = n.concert_id)"
    )
    con.execute("DROP TABLE _performance")
