"""Aggregation procedures: marts derived from the entity tables, refreshed after every load.

`concert_performance` is derived whole (a rebuild, an empty mart) or for one load's batch, so
that a load's cost follows the batch, not the tables:

- a ticket-sales batch that only appends (no stored sale has an id within its id range: new,
  increasing ids) re-derives only its concerts, their sold figures being the mart's plus the
  batch's. A sale's concert, quantity and amount are required, so they are what the load stores;
- a ticket-sales batch that can replace stored sales (an update can move a sale to another
  concert) compares the sold figures of every concert, summed from `ticket_sales` (a scan of
  three compressed columns, far cheaper than finding the replaced sales by id), with the mart's,
  and re-derives the concerts that differ;
- a load of another entity (concerts, venues, box scores, listings) re-derives every concert
  from the dimension tables with the sold figures the mart already holds, never reading
  `ticket_sales` (no such load changes a sale).

Each gives exactly what the whole derivation gives, as long as the mart agreed with
`ticket_sales` before the load: every load and rebuild refreshes it in its own transaction, and
`encore check` reports a mart that disagrees (the second way also mends it).
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
_UTC_NOW: Final = "timezone('UTC', now())"
"""Operations times are naive UTC (as the run ledger's); a bare now() is the host's zone."""


@dataclass(frozen=True)
class Batch:
    """A load's records (`rows`, a relation) of `entity`; made by `before_load`."""

    entity: str
    rows: str = "_clean"
    appends: bool = False
    """For ticket sales: no stored sale has an id within the batch's range, so the load only
    appends (and changes no stored sale)."""


def before_load(
    con: duckdb.DuckDBPyConnection,
    entity: str,
    rows: str = "_clean",
    bounds: tuple[Any, Any] | None = None,
) -> Batch:
    """Call before loading `rows` of `entity`: notes whether a ticket-sales batch only appends
    (zone maps answer it for a batch of new, increasing ids without reading the table).

    `bounds`, when the caller knows them: the smallest and largest key of `rows` or of a
    relation holding them (a wider range only makes an append less likely to be seen).
    """
    if entity != "ticket_sales":
        return Batch(entity, rows)
    if bounds is None:
        bounds = con.execute(f"SELECT min(sale_id), max(sale_id) FROM {rows}").fetchone()
    low, high = bounds if bounds else (None, None)
    row = con.execute(  # constant bounds, so that zone maps can answer
        "SELECT NOT EXISTS (SELECT 1 FROM ticket_sales WHERE sale_id BETWEEN $low AND $high)",
        {"low": low, "high": high},
    ).fetchone()
    return Batch(entity, rows, appends=bool(row and row[0]))


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
        if not (batch.appends and _appended_sold(con, batch)):
            _differing_sold(con)
        sql = _performance_sql(
            "SELECT * FROM _sold WHERE tickets IS NOT NULL",
            "WHERE c.concert_id IN (SELECT concert_id FROM _sold)",
        )
        _merge(con, sql, scope="_sold")
        con.execute("DROP TABLE _sold")
    else:
        _merge(con, _performance_sql(_SOLD_IN_MART), scope=None)
    row = con.execute("SELECT count(*) FROM concert_performance").fetchone()
    return int(row[0]) if row else 0


def _empty(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute("SELECT NOT EXISTS (SELECT 1 FROM concert_performance)").fetchone()
    return bool(row and row[0])


def _appended_sold(con: duckdb.DuckDBPyConnection, batch: Batch) -> bool:
    """`_sold`: the batch's concerts with their sold figures after it; False (and nothing made)
    when the mart lacks one of them, as it then lacks its earlier sales too."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _sold AS
        WITH added AS (
            SELECT concert_id, sum(quantity) AS tickets, sum(amount) AS gross FROM {batch.rows}
            GROUP BY concert_id
        )
        SELECT a.concert_id, (coalesce(m.tickets, 0) + a.tickets)::HUGEINT AS tickets,
               (coalesce(m.gross, 0) + a.gross)::DECIMAL(38, 2) AS gross
        FROM added a LEFT JOIN ({_SOLD_IN_MART}) m USING (concert_id)"""
    )
    row = con.execute(
        "SELECT EXISTS (SELECT 1 FROM _sold s JOIN concerts c USING (concert_id) "
        "WHERE NOT EXISTS (SELECT 1 FROM concert_performance p WHERE p.concert_id = s.concert_id))"
    ).fetchone()
    if row and row[0]:
        con.execute("DROP TABLE _sold")
        return False
    return True


def _differing_sold(con: duckdb.DuckDBPyConnection) -> None:
    """`_sold`: the concerts whose sold figures in `ticket_sales` differ from the mart's, with
    the former (NULL for a concert left without sales)."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _sold AS
        SELECT concert_id, s.tickets, s.gross
        FROM ({_SOLD_FROM_SALES}) s FULL JOIN ({_SOLD_IN_MART}) m USING (concert_id)
        WHERE s.tickets IS DISTINCT FROM m.tickets OR s.gross IS DISTINCT FROM m.gross"""
    )


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
            f"UPDATE concert_performance t SET {assignments}, refreshed_at = {_UTC_NOW} "
            f"FROM _performance n WHERE t.concert_id = n.concert_id AND ({changed})"
        )
    con.execute(
        f"INSERT INTO concert_performance (concert_id, {', '.join(_COLUMNS)}, refreshed_at) "
        f"SELECT concert_id, {', '.join(_COLUMNS)}, {_UTC_NOW} FROM _performance n "
        f"WHERE NOT EXISTS (SELECT 1 FROM concert_performance t WHERE t.concert_id = n.concert_id)"
    )
    con.execute("DROP TABLE _performance")
