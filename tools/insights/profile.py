"""An artist's profile and performance history (4.2), and upcoming concerts by any filter."""

from __future__ import annotations

from datetime import date
from typing import Any, Final

from pydantic import BaseModel, Field

from core.warehouse import reading
from tools.context import ToolContext
from tools.entities import resolve
from tools.query.audit import audited
from tools.results import QueryResult, Table

_HISTORY_SQL: Final = """
SELECT p.event_date, v.name AS venue, v.city, v.state, p.tickets_sold,
       p.gross_revenue, round(p.sell_through, 3) AS sell_through
FROM concert_performance p JOIN venues v USING (venue_id)
WHERE p.artist_id = ? AND p.status = 'completed'
ORDER BY p.event_date DESC
LIMIT 20"""

_SUMMARY_SQL: Final = """
SELECT count(*) AS concerts, sum(tickets_sold) AS tickets_sold,
       sum(gross_revenue) AS gross_revenue, avg(sell_through) AS avg_sell_through,
       count(DISTINCT venue_id) AS venues, min(event_date) AS first_show,
       max(event_date) AS last_show
FROM concert_performance WHERE artist_id = ? AND status = 'completed'"""

_TOP_VENUES_SQL: Final = """
SELECT v.name AS venue, v.city, v.state, count(*) AS concerts,
       sum(p.tickets_sold) AS tickets_sold, round(avg(p.sell_through), 3) AS avg_sell_through
FROM concert_performance p JOIN venues v USING (venue_id)
WHERE p.artist_id = ? AND p.status = 'completed'
GROUP BY ALL ORDER BY tickets_sold DESC, venue LIMIT 10"""

_GENRE_RANK_SQL: Final = """
WITH draw AS (
    SELECT a.artist_id, a.genre, a.popularity, coalesce(sum(p.tickets_sold), 0) AS tickets_sold
    FROM artists a LEFT JOIN concert_performance p
         ON p.artist_id = a.artist_id AND p.status = 'completed'
    GROUP BY ALL
)
SELECT rank() OVER (ORDER BY popularity DESC NULLS LAST) AS popularity_rank,
       rank() OVER (ORDER BY tickets_sold DESC) AS tickets_rank,
       count(*) OVER () AS artists_in_genre, artist_id,
       avg(popularity) OVER () AS genre_avg_popularity,
       avg(tickets_sold) OVER () AS genre_avg_tickets
FROM draw WHERE genre IS NOT DISTINCT FROM (SELECT genre FROM artists WHERE artist_id = ?)
QUALIFY artist_id = ?"""


class ArtistProfile(BaseModel):
    """Who the artist is, how they perform, where they play, and where they stand in their genre."""

    artist: dict[str, Any]
    summary: dict[str, Any] = Field(description="completed concerts: count, tickets, gross, ...")
    genre_standing: dict[str, Any] = Field(
        description="rank by popularity and by tickets sold among artists of the same genre"
    )
    history: Table = Field(description="the 20 most recent completed concerts")
    top_venues: Table
    upcoming: Table
    sql: str = Field(description="the query behind the history table")


@audited("artists", "concert_performance", "venues")
def artist_profile(ctx: ToolContext, *, artist: str) -> ArtistProfile:
    """Profile of an artist: facts, performance history, top venues, genre standing, upcoming."""
    with reading(ctx.settings) as con:
        artist_id, _ = resolve(con, "artist", artist)
        facts = _one(con, "SELECT * FROM artists WHERE artist_id = ?", [artist_id])
        summary = _one(con, _SUMMARY_SQL, [artist_id])
        standing = _one(con, _GENRE_RANK_SQL, [artist_id, artist_id])
        standing.pop("artist_id", None)
        standing["genre"] = facts.get("genre")
        if not summary.get("concerts"):
            standing["tickets_rank"] = None  # no completed concert: no place by tickets sold
        history = _table(con, _HISTORY_SQL, [artist_id])
        top_venues = _table(con, _TOP_VENUES_SQL, [artist_id])
    upcoming = upcoming_concerts(ctx, artist=artist_id, limit=10)
    return ArtistProfile(
        artist=facts,
        summary=summary,
        genre_standing=standing,
        history=history,
        top_venues=top_venues,
        upcoming=Table(columns=upcoming.columns, rows=upcoming.rows),
        sql=_HISTORY_SQL.strip().replace("?", f"'{artist_id}'"),
    )


@audited("concerts", "artists", "venues")
def upcoming_concerts(
    ctx: ToolContext,
    *,
    artist: str | None = None,
    venue: str | None = None,
    city: str | None = None,
    state: str | None = None,
    genres: list[str] | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    limit: int = 20,
) -> QueryResult:
    """Scheduled concerts from `date_from` (default today) by artist, venue, place or genre."""
    start = date.fromisoformat(date_from) if date_from else date.today()
    conditions = ["c.status = 'scheduled'", f"c.event_date >= DATE '{start.isoformat()}'"]
    if date_to:
        conditions.append(f"c.event_date <= DATE '{date.fromisoformat(date_to).isoformat()}'")
    with reading(ctx.settings) as con:
        if artist:
            conditions.append(f"c.artist_id = {_literal(resolve(con, 'artist', artist)[0])}")
        if venue:
            conditions.append(f"c.venue_id = {_literal(resolve(con, 'venue', venue)[0])}")
        if city:
            conditions.append(f"lower(v.city) = lower({_literal(city)})")
        if state:
            conditions.append(f"upper(v.state) = upper({_literal(state)})")
        if genres:
            listed = ", ".join(_literal(g.lower()) for g in genres)
            conditions.append(f"a.genre IN ({listed})")
        limit = max(1, min(int(limit), 500))
        ordered = (
            "SELECT c.concert_id, c.event_date, a.name AS artist, a.genre, v.name AS venue,\n"
            "       v.city, v.state, v.capacity, c.price_min, c.price_max, c.tour_name\n"
            "FROM concerts c JOIN artists a USING (artist_id) JOIN venues v USING (venue_id)\n"
            "WHERE " + "\n  AND ".join(conditions) + "\n"
            "ORDER BY c.event_date, artist\n"
        )
        sql = f"{ordered}LIMIT {limit}"
        # one row more than asked tells whether the list was cut
        cursor = con.execute(f"{ordered}LIMIT {limit + 1}")
        columns = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    table = Table.from_rows(columns, rows[:limit])
    return QueryResult(
        columns=table.columns, rows=table.rows, sql=sql, row_count=len(table.rows),
        truncated=len(rows) > limit,
    )  # fmt: skip


def _literal(value: str) -> str:
    """A SQL string literal (quotes doubled): user text never becomes SQL syntax."""
    return "'" + value.replace("'", "''") + "'"


def _one(con: Any, sql: str, params: list[Any]) -> dict[str, Any]:
    cursor = con.execute(sql, params)
    columns = [d[0] for d in cursor.description]
    row = cursor.fetchone()
    table = Table.from_rows(columns, [row] if row else [])
    return table.records()[0] if table.rows else {}


def _table(con: Any, sql: str, params: list[Any]) -> Table:
    cursor = con.execute(sql, params)
    return Table.from_rows([d[0] for d in cursor.description], cursor.fetchall())
