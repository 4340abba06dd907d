"""Plans: the tool calls that answer an intent, given its entities and the dialogue state.

A plan is a list of steps; each step sees the calls made so far in the turn and returns the next
call or None (skip). Replaying the same plan over the same results gives the same calls, so the
model can continue a plan from the conversation alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from agent.planner.entities import US_STATES, Entities
from agent.planner.state import Call, DialogueState, records, table_of
from tools.interpreter.templates import binned_pairs_sql

Step = Callable[[list[Call]], "Call | None"]

_CONCERT_STATES = r"(?:completed|past|played|scheduled|upcoming|planned|cancell?ed|future|live)"
_MEASURES = (
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
_REFINE = re.compile(
    r"^\s*(and\b|what about|how about|what if|same\b|now\b|only\b|just\b|limit\b|but\b|"
    r"show only)",
    re.I,
)


@dataclass
class Plan:
    """Steps for one turn, plus a note the composer adds (e.g. why a step was skipped)."""

    intent: str
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Notes that lead the answer (a summary of what came back, or why nothing did)."""
    caveats: list[str] = field(default_factory=list)
    """Notes on what the data leaves out, said after the answer's lead sentence."""
    subject: str | None = None
    """The artist the answer is about when no call's input names one (a genre ranking)."""

    def next_call(self, done: list[Call]) -> Call | None:
        """The first planned call not yet in `done`."""
        made = 0
        for step in self.steps:
            call = step(done[:made])
            if call is None:
                continue
            if made < len(done):
                made += 1
                continue
            return call
        return None


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


def _const(name: str, **args: Any) -> Step:
    clean = {k: v for k, v in args.items() if v not in (None, [], "")}
    return lambda _done: Call(name, clean)


def _filters(ents: Entities, skip: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for field_name, values in (
        ("artist", ents.artists),
        ("venue", ents.venues),
        ("city", ents.cities),
        ("state", ents.states),
        ("genre", ents.genres),
        ("venue_type", ents.venue_types),
    ):
        if field_name in skip or not values:
            continue
        if len(values) == 1:
            out.append({"field": field_name, "op": "=", "value": values[0]})
        else:
            out.append({"field": field_name, "op": "in", "value": list(values)})
    return out


def _time(ents: Entities) -> dict[str, str | None] | None:
    return ents.dates.as_time_range() if ents.dates else None


def _query(
    measures: list[str],
    dims: list[str],
    ents: Entities,
    *,
    limit: int = 20,
    skip: tuple[str, ...] = (),
    time_range: dict[str, str | None] | None = None,
) -> Step:
    filters = _filters(ents, skip)
    if not dims:  # "stadiums vs arenas": one row for each of the values named, not one blend
        dims = [f["field"] for f in filters if f["op"] == "in"][:1]
    return _const(
        "semantic_query",
        measures=measures,
        dimensions=dims,
        filters=filters,
        time_range=time_range or _time(ents),
        order_by=[{"field": measures[0], "descending": True}] if dims else [],
        limit=ents.limit or limit,
    )


def _chart_after(kind: str) -> Step:
    def step(done: list[Call]) -> Call | None:
        table = table_of(done[-1].result) if done else None
        if table is None or not table["rows"]:
            return None
        return Call("make_chart", _chart_args(kind, table))

    return step


_TIME_DIMENSIONS = ("year", "quarter", "month", "week", "weekday")
_POSITION = re.compile(r"^(rank|position|row_number|id)$|_id$|_rank$", re.I)


def _chart_args(kind: str, table: dict[str, Any]) -> dict[str, Any]:
    columns: list[str] = table["columns"]
    first = table["rows"][0] if table["rows"] else []
    numbers = [c for c, v in zip(columns, first, strict=False) if isinstance(v, int | float)]
    labels = [c for c in columns if c not in numbers]
    # a rank or an id is a position, not an amount: bars of it put the best one shortest
    numeric = [c for c in numbers if not _POSITION.search(c)] or numbers
    numeric.sort(key=lambda c: c != "score")  # a ranking's own measure first
    x = labels[0] if labels else columns[0]
    y = numeric[0] if numeric else columns[-1]
    if kind == "scatter" and len(numeric) >= 2:
        x, y = numeric[0], numeric[1]  # two measures against each other
    if kind == "heatmap" and len(labels) >= 2 and numeric:
        # time across, the other category down, the measure as colour
        across = next((c for c in labels if c in _TIME_DIMENSIONS), labels[1])
        down = next(c for c in labels if c != across)
        return {
            "kind": kind,
            "table": {"columns": columns, "rows": table["rows"]},
            "x": across,
            "y": down,
            "color": numeric[0],
            "title": f"{numeric[0].replace('_', ' ')} by {down.replace('_', ' ')} and "
            f"{across.replace('_', ' ')}",
        }
    if kind == "map":
        sizes = [c for c in numeric if c.lower() not in ("latitude", "longitude", "lat", "lon")]
        y = sizes[0] if sizes else y
    title = f"{y.replace('_', ' ')} by {x.replace('_', ' ')}"
    return {
        "kind": kind,
        "table": {"columns": columns, "rows": table["rows"]},
        "x": x,
        "y": y,
        "title": title,
    }


_TIME_ADVERBS = {
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
_DIMENSION_NAMES = [
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
        period = singular and singular.group(1) in _TIME_DIMENSIONS
        if singular and (m.group(1) in ("which", "what") or period):
            add(after, _DIMENSION_NAMES)  # "which venue sold the most", "the best month"
    for m in re.finditer(r"\b(?:by|per|each|across)\s+([a-z][a-z ,]*)", lowered):
        for part in re.split(r"\s*(?:,|\band\b)\s*", m.group(1))[:3]:
            add(part, _DIMENSION_NAMES)
    for adverb, dim in _TIME_ADVERBS.items():
        if re.search(rf"\b{adverb}\b", lowered) and dim not in dims:
            dims.append(dim)
    return dims


def data_question(text: str, ents: Entities) -> Step:
    """A measure-by-dimension question as one semantic query."""
    lowered = text.lower()
    measures = [m for pattern, m in _MEASURES if re.search(pattern, lowered)][:2] or [
        "tickets_sold"
    ]
    dims = question_dimensions(text)
    skip: tuple[str, ...] = ()
    if "country" in dims and ents.genres == ["country"] and "country music" not in lowered:
        skip = ("genre",)  # "by country" names the dimension, not the genre
    filters = _filters(ents, skip) + _status_filter(lowered)
    if not dims:  # "stadiums vs arenas": one row for each of the values named, not one blend
        dims = [f["field"] for f in filters if f["op"] == "in"][:1]
    time = [d for d in dims if d in _TIME_DIMENSIONS]
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
    return _const(
        "semantic_query",
        measures=measures,
        dimensions=dims,
        filters=filters,
        time_range=_time(ents),
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


def refine(call: Call, ents: Entities, text: str, today: date) -> Call:
    """The previous main call with this message's changes: dates, places, genres, limit."""
    args = dict(call.input)
    if call.name == "semantic_query":
        filters = [f for f in args.get("filters", []) if f["field"] not in _changed(ents)]
        args["filters"] = filters + _filters(ents)
        if ents.dates:
            args["time_range"] = ents.dates.as_time_range()
    else:
        # a new place replaces the old one: "only in Texas" after New York is not New York, TX
        if ents.states and not ents.cities:
            args.pop("city", None)
        if ents.cities and not ents.states:
            args.pop("state", None)
        for key, values in (
            ("city", ents.cities),
            ("state", ents.states),
            ("venue", ents.venues),
            ("artist", ents.artists),
        ):
            if values:
                args[key] = values[0]
        if ents.genres:
            args[
                "genres" if call.name in ("recommend_concerts", "upcoming_concerts") else "genre"
            ] = (
                ents.genres
                if call.name in ("recommend_concerts", "upcoming_concerts")
                else ents.genres[0]
            )
        if ents.dates and call.name == "predict_ticket_sales":
            args["date"] = default_date(ents, today)  # a forecast is for one day
        elif ents.dates:
            start = ents.dates.start or today
            args["date_from"] = (
                max(start, today).isoformat()
                if call.name != "semantic_query"
                else start.isoformat()
            )
            if ents.dates.end:
                args["date_to"] = ents.dates.end.isoformat()
        if call.name == "predict_ticket_sales" and ents.budget is not None:
            args["price"] = ents.budget  # "what if tickets cost $40?"
        if ents.capacity_band and call.name == "venue_ranking":
            args["capacity_band"] = ents.capacity_band
        if call.name == "venue_ranking" and (seats := seat_bounds(ents, text)):
            args.update(seats)
    limit = ents.limit or _bare_limit(text)
    if limit:
        args["limit"] = limit
    return Call(call.name, args)


_SEATS = re.compile(r"\b(seats?|seating|capacity|people|places)\b", re.I)


def seat_bounds(ents: Entities, text: str) -> dict[str, int]:
    """ "more than 1,000 seats": the venue_ranking capacity bound a message sets, if any."""
    if ents.comparison is None or not _SEATS.search(text):
        return {}
    op, value = ents.comparison
    if op == ">":
        return {"min_capacity": int(value) + (0 if re.search(r"at least|>=", text) else 1)}
    return {"max_capacity": int(value) - (0 if re.search(r"at most|<=", text) else 1)}


def _bare_limit(text: str) -> int | None:
    m = re.search(r"\btop\s+(\d{1,3})\b", text.lower())
    return int(m.group(1)) if m else None


def _changed(ents: Entities) -> set[str]:
    kinds = {
        "city": ents.cities,
        "state": ents.states,
        "genre": ents.genres,
        "venue": ents.venues,
        "artist": ents.artists,
        "venue_type": ents.venue_types,
    }
    return {k for k, v in kinds.items() if v}


def is_refinement(text: str) -> bool:
    """Short follow-ups that change the previous question ("only in Texas", "what about 2023?")."""
    return bool(_REFINE.search(text)) and len(text.split()) <= 9


def default_date(ents: Entities, today: date) -> str:
    """The date a prediction is for: the one named, else four weeks from today."""
    if ents.dates and ents.dates.start:
        return ents.dates.start.isoformat()
    return (today + timedelta(days=28)).isoformat()


def ids_of(call: Call) -> list[str]:
    """Concert ids in a call's result."""
    return [str(r["concert_id"]) for r in records(call.result) if r.get("concert_id")]


def state_artist(ents: Entities, state: DialogueState) -> str | None:
    """The artist named now, else the one the conversation is about."""
    if ents.artists:
        return ents.artists[0]
    return ents.unmatched[0] if ents.unmatched else state.artist


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _venue_places(ents: Entities) -> list[str]:
    """SQL conditions on venues for the states, cities and venue types a message names."""
    named = (("state", ents.states), ("city", ents.cities), ("venue_type", ents.venue_types))
    return [f"{col} IN ({', '.join(map(_literal, values))})" for col, values in named if values]


def venue_map(ents: Entities) -> Step:
    """Venues with their coordinates (for a map), in the places the message names."""
    where = ["latitude IS NOT NULL", "longitude IS NOT NULL"]
    where += _venue_places(ents)
    sql = (
        "SELECT name AS venue, city, state, latitude, longitude, capacity FROM venues "
        f"WHERE {' AND '.join(where)} ORDER BY capacity DESC NULLS LAST, name LIMIT 500"
    )
    return _const("run_sql", sql=sql)


_FAN_COLUMNS = {"age_band": "age_band", "country": "country", "genre": "favorite_genre"}
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
    if any(d not in _FAN_COLUMNS for d in dims):
        return None
    genres = [g for g in ents.genres if not (g == "country" and "country" in dims)]
    where = f" WHERE favorite_genre IN ({', '.join(map(_literal, genres))})" if genres else ""
    if not dims:
        return _const("run_sql", sql=f"SELECT count(*) AS fans FROM fans{where}")
    columns = ", ".join(f"{_FAN_COLUMNS[d]} AS {d}" for d in dims)
    sql = (
        f"SELECT {columns}, count(*) AS fans FROM fans{where} "
        f"GROUP BY {', '.join(str(i + 1) for i in range(len(dims)))} ORDER BY fans DESC"
    )
    return _const("run_sql", sql=sql)


_NOT_FOR_ROLE = re.compile(r"\bcolumns? fans\.\w+ (?:is|are) not available to role ([\w-]+)")
# the semantic layer's dimensions read from the buyer's fans row (joined on the sale's fan id)
_BUYER_DIMENSIONS = {"age_band": "age_band"}


def without_buyers(plan: Plan) -> Step:
    """ "Tickets sold by age band and state" for a role that may not read fan ids (partner): its
    sales cannot be linked to their buyers, so ask again by the other dimensions (or, with none
    left, count the fans themselves by those columns, which the role may read in groups), and a
    caveat says what was left out and why."""

    def step(done: list[Call]) -> Call | None:
        last = done[-1] if done else None
        if last is None or last.name != "semantic_query" or last.error is None:
            return None
        if len([c for c in done if c.name == "semantic_query"]) != 1:
            return None
        role = _NOT_FOR_ROLE.search(last.error)
        asked = last.input
        dims = list(asked.get("dimensions") or [])
        dropped = [d for d in dims if d in _BUYER_DIMENSIONS]
        if role is None or not dropped:
            return None
        kept = [d for d in dims if d not in _BUYER_DIMENSIONS]
        what = " and ".join(d.replace("_", " ") for d in dropped)
        # the fans counted instead are every registered fan: a place or dates asked for are
        # the sales', which the fans table does not have
        scope = _sales_scope(asked, dropped)
        every = f" (all of them: {scope} apply to sales, not to fans)" if scope else ""
        plan.caveats.append(
            f"Role {role.group(1)} can't link ticket sales to their buyers (fan ids are not "
            f"available to it), so this leaves out the buyers' {what}"
            + (
                f". Fans by {what} on their own: 'How many fans are in each {what}?'"
                if kept
                else f": these are the registered fans by {what}, not the tickets they "
                f"bought{every}."
            )
        )
        if not kept:
            columns = ", ".join(f"{_BUYER_DIMENSIONS[d]} AS {d}" for d in dropped)
            groups = ", ".join(str(i + 1) for i in range(len(dropped)))
            return Call(
                "run_sql",
                {
                    "sql": f"SELECT {columns}, count(*) AS fans FROM fans GROUP BY {groups} "
                    "ORDER BY fans DESC"
                },
            )
        return Call(
            "semantic_query",
            {
                **asked,
                "dimensions": kept,
                "filters": [f for f in asked.get("filters") or [] if f["field"] not in dropped],
                "order_by": [o for o in asked.get("order_by") or [] if o["field"] not in dropped],
            },
        )

    return step


def _sales_scope(asked: dict[str, Any], dropped: list[str]) -> str:
    """The filters and dates of a sales query in words ("state TX and the dates 2024-01-01 to
    2024-12-31"), but those on `dropped` columns; '' when there are none."""
    said = [
        f"{f['field'].replace('_', ' ')} "
        + (" or ".join(map(str, f["value"])) if isinstance(f["value"], list) else str(f["value"]))
        for f in asked.get("filters") or []
        if f.get("field") not in dropped
    ]
    span = asked.get("time_range") or {}
    start, end = span.get("start"), span.get("end")
    if start or end:
        dates = f"{start} to {end}" if start and end else f"from {start}" if start else f"to {end}"
        said.append(f"the dates {dates}")
    return " and ".join(said)


_COLUMNS = (
    (r"sell[- ]?through|fill rate", "sell_through"),
    (r"(average |avg )?(ticket )?prices?", "avg_ticket_price"),
    (r"revenue|gross", "gross_revenue"),
    (r"capacity|seats|venue size", "capacity"),
    (r"tickets?( sold)?|attendance", "tickets_sold"),
)


def measure_pair(text: str) -> tuple[str, str] | None:
    """The two per-concert measures a question sets against each other ("capacity vs tickets
    sold", "between ticket price and sell-through"), in the order named; None unless two."""
    lowered = text.lower()
    taken: list[tuple[int, int, str]] = []
    for pattern, column in _COLUMNS:
        for m in re.finditer(rf"\b(?:{pattern})\b", lowered):
            if all(m.end() <= a or m.start() >= b for a, b, _ in taken):
                taken.append((m.start(), m.end(), column))
    named = list(dict.fromkeys(c for _, _, c in sorted(taken)))
    return (named[0], named[1]) if len(named) == 2 else None


def _concert_rows(pair: tuple[str, str], ents: Entities) -> str:
    """Completed concerts with the two measures (as numbers), in the places and dates named."""
    x, y = pair
    where = ["p.status = 'completed'", f"p.{x} IS NOT NULL", f"p.{y} IS NOT NULL"]
    for column, values in (("v.state", ents.states), ("v.city", ents.cities)):
        if values:
            where.append(f"{column} IN ({', '.join(map(_literal, values))})")
    if ents.genres:
        where.append(f"a.genre IN ({', '.join(map(_literal, ents.genres))})")
    if ents.dates and ents.dates.start:
        where.append(f"p.event_date >= DATE '{ents.dates.start.isoformat()}'")
    if ents.dates and ents.dates.end:
        where.append(f"p.event_date <= DATE '{ents.dates.end.isoformat()}'")
    return (
        f"SELECT p.concert_id, CAST(p.{x} AS DOUBLE) AS {x}, CAST(p.{y} AS DOUBLE) AS {y} "
        "FROM concert_performance p JOIN venues v USING (venue_id) "
        f"JOIN artists a USING (artist_id) WHERE {' AND '.join(where)} ORDER BY p.concert_id"
    )


def correlation(pair: tuple[str, str], ents: Entities) -> Step:
    """How two measures move together over completed concerts: the sandbox's correlation
    template (Pearson and Spearman, with a scatter)."""
    x, y = pair
    return _const(
        "run_analysis",
        template="price_vs_sell_through",
        # binned in SQL: every concert counts, in an extract no role's row cap cuts
        sql=binned_pairs_sql(_concert_rows(pair, ents), x, y),
        params={"x": x, "y": y},
    )


def scatter(pair: tuple[str, str], ents: Entities) -> list[Step]:
    """One point per completed concert, the first measure across."""
    x, y = pair

    def chart(done: list[Call]) -> Call | None:
        table = table_of(done[-1].result) if done else None
        if table is None or not table["rows"]:
            return None
        args = _chart_args("scatter", table)
        args.update(x=x, y=y, title=f"{y.replace('_', ' ')} vs {x.replace('_', ' ')} per concert")
        return Call("make_chart", args)

    return [_const("run_sql", sql=_concert_rows(pair, ents)), chart]


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
    return _const(
        "run_sql",
        sql="SELECT name AS venue, city, state, venue_type, capacity FROM venues "
        f"WHERE {' AND '.join(where)} ORDER BY capacity {order}, name LIMIT {limit}",
    )


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
    return _const(
        "run_sql",
        sql="SELECT p.event_date, v.name AS venue, v.city, v.state, p.tickets_sold, "
        "p.gross_revenue, round(p.sell_through, 3) AS sell_through "
        "FROM concert_performance p JOIN venues v USING (venue_id) "
        "JOIN artists a USING (artist_id) "
        f"WHERE a.name = {_literal(artist)} AND p.status = 'completed' "
        "ORDER BY p.event_date DESC, v.name",
    )


# dimension words a follow-up may use besides those of a question ("and by age?", "by tier")
_FOLLOW_UP_WORDS = {
    "age bands": "age_band",
    "age groups": "age_band",
    "age group": "age_band",
    "ages": "age_band",
    "age": "age_band",
    "price tiers": "price_tier",
    "ticket tiers": "price_tier",
    "ticket tier": "price_tier",
    "tiers": "price_tier",
    "tier": "price_tier",
    "venue types": "venue_type",
    "types of venue": "venue_type",
    "type of venue": "venue_type",
    "countries": "country",
    "weekdays": "weekday",
    "days of the week": "weekday",
    "years": "year",
    "quarters": "quarter",
    "months": "month",
    "weeks": "week",
    "statuses": "status",
}
_REGROUP_BY = re.compile(r"\b(?:by|per|for each|for every|across)\s+((?:the\s+)?[a-z][a-z ,]*)")
# the words a follow-up that only regroups may say besides the grouping and what it changes
_REGROUP_FILLER = re.compile(
    r"and|also|now|then|ok|okay|so|but|what|about|how|same|just|only|instead|rather|than|split|"
    r"break|broken|down|it|that|this|group|grouped|show|me|them|do|the|again|please|can|could|"
    r"you|too|as|well|plus|let's|lets|see|try|thing|one|table|breakdown"
)
_REPLACE = re.compile(r"\b(instead|rather|now|(only|just) by)\b", re.I)
_ADD = re.compile(r"^\s*(and|also|plus)\b|\b(also|too|as well|plus)\b", re.I)


def regrouping(text: str, ents: Entities) -> tuple[list[str], bool] | None:
    """The dimensions a short follow-up groups by ("and by age band?", "by channel instead",
    "now monthly") and whether they replace the previous grouping (else they are added to it);
    None when the message does more than regroup (names a measure, asks something new)."""
    if len(text.split()) > 9:
        return None
    lowered = text.lower()
    dims: list[str] = []
    spans: list[tuple[int, int]] = []
    # the longest name first: "age band" is one dimension, not "age" and a stray "band"
    words = sorted([*_FOLLOW_UP_WORDS.items(), *_DIMENSION_NAMES], key=lambda w: -len(w[0]))
    for m in _REGROUP_BY.finditer(lowered):
        end = m.start(1)
        for part in re.split(r"(\s*(?:,|\band\b)\s*)", m.group(1)):
            phrase = part.removeprefix("the ")
            word = next((w for w, _ in words if re.match(rf"{re.escape(w)}\b", phrase)), None)
            if word is not None:
                dim = dict(words)[word]
                dims += [dim] if dim not in dims else []
                skipped = len(part) - len(phrase)
                spans.append((m.start(), end + skipped + len(word)))
            end += len(part)
    for adverb, dim in _TIME_ADVERBS.items():
        for m in re.finditer(rf"\b{adverb}\b", lowered):
            dims += [dim] if dim not in dims else []
            spans.append(m.span())
    if not dims:
        return None
    rest = "".join(" " if any(a <= i < b for a, b in spans) else ch for i, ch in enumerate(lowered))
    # what else the follow-up says: a place or dates it also changes, else only filler words
    said = [w for w in re.findall(r"[a-z']+", rest) if not _REGROUP_FILLER.fullmatch(w)]
    if not all(_place_or_date(w, ents) for w in said):
        return None
    replace = bool(_REPLACE.search(lowered)) or not _ADD.search(lowered)
    return dims, replace


def _place_or_date(word: str, ents: Entities) -> bool:
    """A word of a place, genre or dates the follow-up names too ("and by month for Texas")."""
    if word in ("in", "for", "of", "during", "at", "top"):
        return True
    if ents.dates and _DATE_WORDS.fullmatch(word):
        return True
    names = [*ents.cities, *ents.states, *ents.genres, *ents.venue_types]
    states = [name for name, code in US_STATES.items() if code in ents.states]
    return word in " ".join([*names, *states]).lower().split()


_DATE_WORDS = re.compile(
    r"last|this|next|years?|months?|quarters?|weeks?|q|to|from|since|until|between|january|"
    r"february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|"
    r"apr|jun|jul|aug|sept?|oct|nov|dec|summer|winter|spring|fall|autumn"
)


def regroup(
    call: Call,
    ents: Entities,
    text: str,
    today: date,
    dims: list[str],
    replace: bool,
    *,
    answered: bool = True,
) -> tuple[Call, str]:
    """The previous semantic query grouped by `dims` instead of (or besides) its own, with its
    measures, filters and dates (and any this message changes), and a note of what changed;
    `answered` is False when raw SQL answered in its place (nothing to compare totals with)."""
    before = list(call.input.get("dimensions") or [])
    args = dict(refine(call, ents, text, today).input)
    if "country" in dims and ents.genres == ["country"] and "country music" not in text.lower():
        # "by country" names the dimension, not the genre
        kept = [f for f in call.input.get("filters") or [] if f["field"] == "genre"]
        args["filters"] = [f for f in args["filters"] if f["field"] != "genre"] + kept
    after = dims if replace else [*before, *(d for d in dims if d not in before)]
    measures: list[str] = list(args.get("measures") or ["tickets_sold"])
    time = [d for d in after if d in _TIME_DIMENSIONS]
    args["dimensions"] = after
    args["order_by"] = (
        [{"field": d, "descending": False} for d in time]
        if time
        else [{"field": measures[0], "descending": True}]
    )
    if not ents.limit and not _bare_limit(text) and (time or len(after) > len(before)):
        args["limit"] = max(int(args.get("limit") or 0), 500)  # a breakdown shows every group
    note = _regroup_note(measures, before, after, args, compared=answered)
    return Call("semantic_query", args), note


def regrouped_note(plan: Plan, previous: Call, asked: Call, *, answered: bool = True) -> Step:
    """The note of a regrouping said again for the query that answered, when the role made it
    leave a dimension out (without_buyers): "now by state instead of age band", not "by age
    band and state", with the caveat saying why."""

    def step(done: list[Call]) -> Call | None:
        ran = [c for c in done if c.name == "semantic_query"]
        final = ran[-1].input if len(ran) == 2 and ran[0].input == asked.input else None
        dropped = final is not None and final.get("dimensions") != asked.input["dimensions"]
        if final is not None and dropped and plan.notes:
            before = list(previous.input.get("dimensions") or [])
            measures = list(final.get("measures") or [])
            after = list(final.get("dimensions") or [])
            plan.notes[0] = _regroup_note(measures, before, after, final, compared=answered)
        return None

    return step


def _words(names: list[str]) -> str:
    said = [n.replace("_", " ") for n in names]
    return " and ".join(said) if len(said) < 3 else ", ".join(said[:-1]) + " and " + said[-1]


def _regroup_note(
    measures: list[str],
    before: list[str],
    after: list[str],
    args: dict[str, Any],
    *,
    compared: bool = True,
) -> str:
    """ "Tickets sold in 2024, now by channel instead of state.": the grouping that changed and
    what was kept, which the follow-up did not repeat."""
    what = _words(measures).capitalize() + _scope(args)
    if not before:
        said = f"{what}, now by {_words(after)}."
    elif after[: len(before)] == before and len(after) > len(before):
        said = f"{what}, by {_words(after)} ({_words(after[len(before) :])} added)."
    elif after == before:
        said = f"{what}, by {_words(after)} as before."
    else:
        said = f"{what}, now by {_words(after)} instead of {_words(before)}."
    sales_before = [d for d in before if d in _SALES_ONLY]
    sales_after = [d for d in after if d in _SALES_ONLY]
    counted = compared and set(measures) & _COUNTED_BOTH_WAYS
    if counted and sales_after and not sales_before:
        said += (
            f" {_words(sales_after).capitalize()} "
            f"{'exist' if len(sales_after) > 1 else 'exists'} only in the ticket transactions, so "
            "these totals do not compare with the last answer's, from the concert results."
        )
    elif counted and sales_before and not sales_after:
        said += (
            " These come from the concert results again, so the totals do not compare with the "
            "last answer's, from the ticket transactions."
        )
    return said


# dimensions only ticket transactions have (semantic.yaml): measures of concerts split by them
# are counted from the transactions, which cover fewer tickets than the concert results
_SALES_ONLY = ("channel", "price_tier", "age_band")
_COUNTED_BOTH_WAYS = frozenset(
    {"tickets_sold", "gross_revenue", "concerts", "avg_ticket_price", "artists", "venues"}
)


def _scope(args: dict[str, Any]) -> str:
    """ " for state TX, in 2024": the filters and dates a query keeps, in words."""
    filters = [
        f"{f['field'].replace('_', ' ')} "
        + (" or ".join(map(str, f["value"])) if isinstance(f["value"], list) else str(f["value"]))
        for f in args.get("filters") or []
    ]
    said = f" for {' and '.join(filters)}" if filters else ""
    span = args.get("time_range") or {}
    start, end = span.get("start"), span.get("end")
    year = re.fullmatch(r"(\d{4})-01-01", start or "")
    if year and end == f"{year.group(1)}-12-31":
        return f"{said}, in {year.group(1)}"
    if start or end:
        dates = f"{start} to {end}" if start and end else f"from {start}" if start else f"to {end}"
        return f"{said}, {dates}"
    return said


def sql_measures(call: Call) -> list[str]:
    """The semantic-layer measures a raw SQL answer's columns are named after ("fans",
    "tickets_sold"), in column order."""
    table = table_of(call.result)
    columns = [str(c) for c in table["columns"]] if table else []
    known = {m for _, m in _MEASURES} | {"transactions", "gross_revenue"}
    return [c for c in columns if c in known]


def sql_regroup(
    call: Call, ents: Entities, text: str, dims: list[str], replace: bool
) -> tuple[Call, str]:
    """A regrouping follow-up to raw SQL, which cannot be regrouped: registered fans counted by
    the fans' own columns again, else asked as a new question by `dims`, with the measures the
    SQL's columns are named after (else tickets sold) and the places and dates this message
    names; the note says so."""
    if (fans := _fans_regroup(call, dims, replace)) is not None:
        return fans
    named = sql_measures(call)
    measures = named[:2] or ["tickets_sold"]
    skip = ("genre",) if "country" in dims and "country music" not in text.lower() else ()
    time = [d for d in dims if d in _TIME_DIMENSIONS]
    args = {
        "measures": measures,
        "dimensions": dims,
        "filters": _filters(ents, skip),
        "time_range": _time(ents),
        "order_by": [{"field": d, "descending": False} for d in time]
        or [{"field": measures[0], "descending": True}],
        "limit": ents.limit or _bare_limit(text) or 500,
    }
    clean = {k: v for k, v in args.items() if v not in (None, [], "")}
    note = (
        "The last answer came from SQL, which I can't regroup, so this asks anew for "
        f"{_words(measures)} by {_words(dims)}, without that SQL's conditions."
    )
    if "fans" in measures and re.search(r"\bFROM fans\b", str(call.input.get("sql")), re.I):
        note += " Fans here are those who bought tickets, not every registered fan."
    return Call("semantic_query", clean), note


_FAN_GENRES = re.compile(r"\bWHERE favorite_genre IN \([^)]*\)")


def _fans_regroup(call: Call, dims: list[str], replace: bool) -> tuple[Call, str] | None:
    """Registered fans counted by other columns of their own ("How many fans are in each age
    band?", then "and by country?"), with the genres counted before; None unless that is what
    the SQL counted and every dimension asked for is a column of the fans table."""
    sql = str(call.input.get("sql") or "")
    table = table_of(call.result)
    columns = [str(c) for c in table["columns"]] if table else []
    if "fans" not in columns or not re.search(r"\bFROM fans\b", sql, re.I):
        return None
    before = [c for c in columns if c in _FAN_COLUMNS]
    after = dims if replace else [*before, *(d for d in dims if d not in before)]
    if any(d not in _FAN_COLUMNS for d in after):
        return None
    genres = _FAN_GENRES.search(sql)
    where = f" {genres.group(0)}" if genres else ""
    listed = ", ".join(f"{_FAN_COLUMNS[d]} AS {d}" for d in after)
    groups = ", ".join(str(i + 1) for i in range(len(after)))
    fans = Call(
        "run_sql",
        {
            "sql": f"SELECT {listed}, count(*) AS fans FROM fans{where} GROUP BY {groups} "
            "ORDER BY fans DESC"
        },
    )
    return fans, _regroup_note(["fans"], before, after, {})
