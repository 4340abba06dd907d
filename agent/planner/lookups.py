"""Questions one table answers directly, without the semantic layer: an artist's concert
history and registered fans counted by their own columns."""

from __future__ import annotations

import re

from agent.planner.entities import Entities
from agent.planner.plans import Step, fixed_call, sql_literal
from agent.planner.questions import question_dimensions

FAN_COLUMNS = {"age_band": "age_band", "country": "country", "genre": "favorite_genre"}
_FAN_COUNT = re.compile(r"\b(how many|number of|count of)\s+(our\s+)?fans\b|\bfans\s+(by|per)\b")
_PURCHASE = re.compile(
    r"ticket|bought|buy|purchas|spen[dt]|concert|show|gig|venue|attend|sales|revenue", re.I
)


def fan_base_question(text: str, ents: Entities) -> Step | None:
    """ "How many fans are in each age band?": counts over the fans table itself (registered fans,
    buyers or not), by the columns every role may read; None when the question is about buyers."""
    lowered = text.lower()
    if not _FAN_COUNT.search(lowered):
        return None
    named = ents.artists or ents.venues or ents.cities or ents.states or ents.venue_types
    if named or ents.dates or _PURCHASE.search(lowered):
        return None
    dims = question_dimensions(text)
    if any(d not in FAN_COLUMNS for d in dims):
        return None
    genres = [g for g in ents.genres if not (g == "country" and "country" in dims)]
    where = f" WHERE favorite_genre IN ({', '.join(map(sql_literal, genres))})" if genres else ""
    if not dims:
        return fixed_call("run_sql", sql=f"SELECT count(*) AS fans FROM fans{where}")
    columns = ", ".join(f"{FAN_COLUMNS[d]} AS {d}" for d in dims)
    sql = (
        f"SELECT {columns}, count(*) AS fans FROM fans{where} "
        f"GROUP BY {', '.join(str(i + 1) for i in range(len(dims)))} ORDER BY fans DESC"
    )
    return fixed_call("run_sql", sql=sql)


_HISTORY = re.compile(
    r"\b(concert|show|gig|performance|touring|tour)\s+history\b|"
    r"\b(completed|past|previous|earlier|former)\s+(concerts?|shows?|gigs?|performances?)\b|"
    r"\b(concerts?|shows?|gigs?)\b.*\b(played|performed|have done|did)\b",
    re.I,
)
_COUNTED = re.compile(r"\b(how many|number of|count|total|average|avg)\b", re.I)


def asks_history(text: str) -> bool:
    """ "List all completed concerts by <artist>", "Show <artist>'s concert history": the
    concerts themselves, not a count of them."""
    return bool(_HISTORY.search(text)) and not _COUNTED.search(text)


def concert_history(artist: str) -> Step:
    """The artist's completed concerts, latest first (the columns of the profile's table)."""
    return fixed_call(
        "run_sql",
        sql="SELECT p.event_date, v.name AS venue, v.city, v.state, p.tickets_sold, "
        "p.gross_revenue, round(p.sell_through, 3) AS sell_through "
        "FROM concert_performance p JOIN venues v USING (venue_id) "
        "JOIN artists a USING (artist_id) "
        f"WHERE a.name = {sql_literal(artist)} AND p.status = 'completed' "
        "ORDER BY p.event_date DESC, v.name",
    )
