"""Measure-by-dimension questions ("tickets sold by state in 2024") as one semantic query."""

from __future__ import annotations

import re
from typing import Any

from agent.planner.entities import Entities
from agent.planner.plans import TIME_DIMENSIONS, Step, entity_filters, fixed_call, time_range_of

_CONCERT_STATES = r"(?:completed|past|played|scheduled|upcoming|planned|cancell?ed|future|live)"
MEASURES = (
    (r"revenue|gross|earn|money", "gross_revenue"),
    (r"price", "avg_ticket_price"),
    (r"sell[- ]?through|fill rate", "sell_through"),
    (r"sell[- ]?outs?|sold out", "sell_outs"),
    (r"\bfans\b", "fans"),
    (r"how many (artists|acts)", "artists"),
    (r"how many venues", "venues"),
    (r"capacity", "capacity"),
    # "how many completed concerts did <artist> play?": a status word may come between
    (rf"(how many|number of) (?:{_CONCERT_STATES} )?(concerts|shows|gigs)\b", "concerts"),
    (r"tickets?|attendance|sales|sold|crowd", "tickets_sold"),
)
_DIMENSIONS = (
    "artist",
    "genre",
    "venue_type",
    "venue",
    "city",
    "state",
    "country",
    "year",
    "quarter",
    "month",
    "week",
    "weekday",
    "status",
    "channel",
    "price_tier",
    "age_band",
)
_DIMENSION_WORDS = {
    "age band": "age_band",
    "venue type": "venue_type",
    "price tier": "price_tier",
    "day of week": "weekday",
    "day of the week": "weekday",
    "weekday": "weekday",
    "artists": "artist",
    "genres": "genre",
    "venues": "venue",
    "cities": "city",
    "states": "state",
    "sales channels": "channel",
    "sales channel": "channel",
    "channels": "channel",
}


TIME_ADVERBS = {
    "monthly": "month",
    "quarterly": "quarter",
    "weekly": "week",
    "yearly": "year",
    "annual": "year",
    "annually": "year",
}
_RANKED = re.compile(
    r"\b(top|best|bottom|worst|most|least|highest|lowest|biggest|largest|smallest|busiest|"
    r"quietest)\b",
    re.I,
)
# a dimension named right after a question word or a ranking word: "which 10 artists", "top venues"
_NAMED_DIMENSION = re.compile(
    r"\b(top|best|bottom|worst|which|what|busiest|quietest)\s+(?:\d+\s+)?", re.I
)
DIMENSION_NAMES = [
    *_DIMENSION_WORDS.items(),
    *((d.replace("_", " "), d) for d in _DIMENSIONS),
]


def question_dimensions(text: str) -> list[str]:
    """The dimensions a question groups by, in the order it names them."""
    lowered = text.lower()
    dims: list[str] = []

    def add(phrase: str, words: list[tuple[str, str]]) -> None:
        for word, dim in words:
            if re.match(rf"{re.escape(word)}\b", phrase) and dim not in dims:
                dims.append(dim)
                return

    plurals = [(w, d) for w, d in _DIMENSION_WORDS.items() if w.endswith("s")]
    for m in _NAMED_DIMENSION.finditer(lowered):
        after = lowered[m.end() :]
        add(after, plurals)
        singular = re.match(
            r"(venue type|venue|artist|genre|city|state|country|(sales )?channel|price tier|"
            r"age band|month|year|quarter|week|weekday|day of (the )?week)\b",
            after,
        )
        period = singular and singular.group(1) in TIME_DIMENSIONS
        if singular and (m.group(1) in ("which", "what") or period):
            add(after, DIMENSION_NAMES)  # "which venue sold the most", "the best month"
    for m in re.finditer(r"\b(?:by|per|each|across)\s+([a-z][a-z ,]*)", lowered):
        for part in re.split(r"\s*(?:,|\band\b)\s*", m.group(1))[:3]:
            add(part, DIMENSION_NAMES)
    for adverb, dim in TIME_ADVERBS.items():
        if re.search(rf"\b{adverb}\b", lowered) and dim not in dims:
            dims.append(dim)
    return dims


def data_question(text: str, ents: Entities) -> Step:
    """A measure-by-dimension question as one semantic query."""
    lowered = text.lower()
    measures = [m for pattern, m in MEASURES if re.search(pattern, lowered)][:2] or ["tickets_sold"]
    dims = question_dimensions(text)
    skip: tuple[str, ...] = ()
    if "country" in dims and ents.genres == ["country"] and "country music" not in lowered:
        skip = ("genre",)  # "by country" names the dimension, not the genre
    filters = entity_filters(ents, skip) + _status_filter(lowered)
    if not dims:  # "stadiums vs arenas": one row for each of the values named, not one blend
        dims = [f["field"] for f in filters if f["op"] == "in"][:1]
    time = [d for d in dims if d in TIME_DIMENSIONS]
    # "which month had the highest ...": the months ranked by the measure, not in time order
    best_period = bool(_RANKED.search(lowered) and _WHICH_PERIOD.search(lowered))
    order = (
        [{"field": d, "descending": False} for d in time]
        if time and not best_period
        else [{"field": measures[0], "descending": not _LOWEST.search(lowered)}]
        if dims
        else []
    )
    # a ranking shows its top rows; a breakdown ("by state", "monthly") every group
    limit = ents.limit or (10 if _RANKED.search(lowered) and (best_period or not time) else 500)
    return fixed_call(
        "semantic_query",
        measures=measures,
        dimensions=dims,
        filters=filters,
        time_range=time_range_of(ents),
        order_by=order,
        limit=limit,
    )


_WHICH_PERIOD = re.compile(
    r"\b(which|what|best|worst|busiest|quietest|top)\s+(\d+\s+)?"
    r"(months?|years?|quarters?|weeks?|weekdays?|days? of (the )?week)\b"
)
_LOWEST = re.compile(r"\b(lowest|least|worst|fewest|smallest|quietest)\b")

_STATUS = (
    (r"\b(scheduled|upcoming|planned|on sale)\b", "scheduled"),
    (r"\b(cancell?ed|called off)\b", "cancelled"),
    (r"\b(completed|happened|took place)\b", "completed"),
)


def _status_filter(lowered: str) -> list[dict[str, Any]]:
    """ "How many concerts are scheduled?": the concerts' status, when a count asks for one."""
    if not re.search(r"\b(how many|number of|count)\b.*\b(concerts?|shows?|gigs?)\b", lowered):
        return []
    for pattern, status in _STATUS:
        if re.search(pattern, lowered):
            return [{"field": "status", "op": "=", "value": status}]
    return []
