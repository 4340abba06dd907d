"""Aggregation procedures: marts derived from the entity tables, refreshed after every load."""

from __future__ import annotations

from typing import Final

import duckdb

# Transactions win over box scores: they are Encore's own records. Concerts with neither (not
# yet on sale, cancelled, or sold elsewhere without a report) appear with zero sold.
_CONCERT_PERFORMANCE: Final = """
WITH sold AS (
    SELECT concert_id, sum(quantity) AS tickets, sum(amount) AS gross
    FROM ticket_sales GROUP BY concert_id
)
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
LEFT JOIN sold s USING (concert_id)
LEFT JOIN concert_results r USING (concert_id)
"""
_REFERENCES: Final = ("artist_id", "venue_id")
"""Indexed (foreign keys): updated apart, as DuckDB rewrites a row whose index key is set."""
_FIGURES: Final = (
    "event_date", "status", "capacity", "tickets_sold", "gross_revenue", "avg_ticket_price",
    "sell_through", "results_source",
)  # fmt: skip
_COLUMNS: Final = (*_REFERENCES, *_FIGURES)


def refresh_concert_performance(con: duckdb.DuckDBPyConnection) -> int:
    """Bring `concert_performance` up to date (inside the load's transaction); return its rows.

    Computed whole, then merged: only rows whose figures changed are written (and get a new
    `refreshed_at`). Deleting and re-inserting every row would cost a rewrite of the table's
    key indexes at each commit.
    """
    # the stored types, so that equal figures compare equal
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _performance AS "
        "SELECT * EXCLUDE (refreshed_at) FROM concert_performance LIMIT 0"
    )
    con.execute(f"INSERT INTO _performance {_CONCERT_PERFORMANCE}")
    con.execute(
        "DELETE FROM concert_performance t WHERE NOT EXISTS "
        "(SELECT 1 FROM _performance n WHERE n.concert_id = t.concert_id)"
    )
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
    row = con.execute("SELECT count(*) FROM concert_performance").fetchone()
    return int(row[0]) if row else 0
