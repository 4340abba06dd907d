"""Aggregation procedures: marts derived from the entity tables, refreshed after every load."""

from __future__ import annotations

import duckdb

# Transactions win over box scores: they are Encore's own records. Concerts with neither (not
# yet on sale, cancelled, or sold elsewhere without a report) appear with zero sold.
_CONCERT_PERFORMANCE = """
INSERT INTO concert_performance
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
         ELSE 'none' END                                     AS results_source,
    now()                                                    AS refreshed_at
FROM concerts c
JOIN venues v USING (venue_id)
LEFT JOIN sold s USING (concert_id)
LEFT JOIN concert_results r USING (concert_id)
"""


def refresh_concert_performance(con: duckdb.DuckDBPyConnection) -> int:
    """Rebuild `concert_performance` (call inside the load's transaction); return its row count."""
    con.execute("DELETE FROM concert_performance")
    con.execute(_CONCERT_PERFORMANCE)
    row = con.execute("SELECT count(*) FROM concert_performance").fetchone()
    return int(row[0]) if row else 0
