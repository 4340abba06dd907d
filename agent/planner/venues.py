"""Venue questions: rankings relaxed when their filters match nothing, seat bounds, venues by
size and on a map."""

from __future__ import annotations

import re
from typing import Any

from agent.planner.entities import Entities
from agent.planner.plans import Plan, Step, fixed_call, sql_literal
from agent.planner.state import Call, records

_NARROWEST_FIRST = ("genre", "venue_type", "capacity_band")
"""The venue-ranking filters dropped, in this order, when together they match no venue."""
_FILTER_NAMES = {
    "city": "city",
    "state": "state",
    "genre": "genre",
    "venue_type": "venue type",
    "capacity_band": "capacity band",
}


def relax_when_empty(plan: Plan, carried: tuple[str, ...] = ()) -> Step:
    """Rank again without one filter when the ranking before found nothing: first a place
    carried over from an earlier question (`carried`), then the narrowest asked one; the note says
    which filters together matched nothing and which were dropped ("No matches" helps nobody)."""

    def step(done: list[Call]) -> Call | None:
        if not done or done[-1].name != "venue_ranking" or records(done[-1].result):
            return None
        tried = [c.input for c in done if c.name == "venue_ranking"]
        asked = tried[0]
        for dropped in _relaxations(asked, carried):
            args = {k: v for k, v in asked.items() if k not in dropped}
            if args in tried:
                continue
            every = [f"{_FILTER_NAMES[k]} '{asked[k]}'" for k in _FILTER_NAMES if asked.get(k)]
            gone = [f"{_FILTER_NAMES[k]} '{asked[k]}'" for k in _FILTER_NAMES if k in dropped]
            note = (
                f"No venue matched {' and '.join(every)} together, so these are the best "
                f"without {' and '.join(gone)}."
            )
            plan.notes[:] = [n for n in plan.notes if not n.startswith("No venue matched")]
            plan.notes.append(note)
            return Call("venue_ranking", args)
        return None

    return step


def _relaxations(asked: dict[str, Any], carried: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Filters to leave out, in order: the carried-over place; one asked filter at a time,
    narrowest first; then more of them together."""
    place = tuple(k for k in carried if asked.get(k))
    narrow = [k for k in _NARROWEST_FIRST if asked.get(k)]
    sets: list[tuple[str, ...]] = [place] if place else []
    sets += [(k,) for k in narrow]
    sets += [tuple(narrow[:i]) for i in range(2, len(narrow) + 1)]
    if place and narrow:
        sets.append((*place, *narrow))
    return sets


_SEATS = re.compile(r"\b(seats?|seating|capacity|people|places)\b", re.I)


def seat_bounds(ents: Entities, text: str) -> dict[str, int]:
    """ "more than 1,000 seats": the venue_ranking capacity bound a message sets, if any."""
    if ents.comparison is None or not _SEATS.search(text):
        return {}
    op, value = ents.comparison
    if op == ">":
        return {"min_capacity": int(value) + (0 if re.search(r"at least|>=", text) else 1)}
    return {"max_capacity": int(value) - (0 if re.search(r"at most|<=", text) else 1)}


def _venue_places(ents: Entities) -> list[str]:
    """SQL conditions on venues for the states, cities and venue types a message names."""
    named = (("state", ents.states), ("city", ents.cities), ("venue_type", ents.venue_types))
    return [f"{col} IN ({', '.join(map(sql_literal, values))})" for col, values in named if values]


def venue_map(ents: Entities) -> Step:
    """Venues with their coordinates (for a map), in the places the message names."""
    where = ["latitude IS NOT NULL", "longitude IS NOT NULL"]
    where += _venue_places(ents)
    sql = (
        "SELECT name AS venue, city, state, latitude, longitude, capacity FROM venues "
        f"WHERE {' AND '.join(where)} ORDER BY capacity DESC NULLS LAST, name LIMIT 500"
    )
    return fixed_call("run_sql", sql=sql)


_BY_SIZE = re.compile(
    r"\b(biggest|largest|smallest|by (capacity|size|seats))\b.*\bvenues?\b|"
    r"\bvenues?\b.*\b(by (capacity|size|seats)|(most|fewest) seats|(highest|lowest) capacity)\b",
    re.I,
)


def venues_by_size(text: str, ents: Entities) -> Step | None:
    """ "The 10 biggest venues by capacity": venues ordered by their seats, not by popularity."""
    if not _BY_SIZE.search(text):
        return None
    where = ["capacity IS NOT NULL"]
    where += _venue_places(ents)
    order = "ASC" if re.search(r"\bsmallest\b", text, re.I) else "DESC"
    counted = re.search(r"\b(\d{1,3})\s+(biggest|largest|smallest)\b", text, re.I)
    limit = ents.limit or (int(counted.group(1)) if counted else 10)
    return fixed_call(
        "run_sql",
        sql="SELECT name AS venue, city, state, venue_type, capacity FROM venues "
        f"WHERE {' AND '.join(where)} ORDER BY capacity {order}, name LIMIT {limit}",
    )
