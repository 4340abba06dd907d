"""Follow-ups that refine or regroup the last query: "only in Texas", "and by age band?",
"by channel instead", and the same asked of raw SQL, which cannot be regrouped."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from agent.planner.entities import US_STATES, Entities
from agent.planner.lookups import FAN_COLUMNS
from agent.planner.plans import (
    TIME_DIMENSIONS,
    Plan,
    Step,
    default_date,
    entity_filters,
    time_range_of,
    top_limit,
)
from agent.planner.questions import DIMENSION_NAMES, MEASURES, TIME_ADVERBS
from agent.planner.state import Call, table_of
from agent.planner.venues import seat_bounds

_REFINE = re.compile(
    r"^\s*(and\b|what about|how about|what if|same\b|now\b|only\b|just\b|limit\b|but\b|"
    r"show only)",
    re.I,
)


def refine(call: Call, ents: Entities, text: str, today: date) -> Call:
    """The previous main call with this message's changes: dates, places, genres, limit."""
    args = dict(call.input)
    if call.name == "semantic_query":
        filters = [f for f in args.get("filters", []) if f["field"] not in _changed(ents)]
        args["filters"] = filters + entity_filters(ents)
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
    limit = ents.limit or top_limit(text)
    if limit:
        args["limit"] = limit
    return Call(call.name, args)


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
    words = sorted([*_FOLLOW_UP_WORDS.items(), *DIMENSION_NAMES], key=lambda w: -len(w[0]))
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
    for adverb, dim in TIME_ADVERBS.items():
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
    time = [d for d in after if d in TIME_DIMENSIONS]
    args["dimensions"] = after
    args["order_by"] = (
        [{"field": d, "descending": False} for d in time]
        if time
        else [{"field": measures[0], "descending": True}]
    )
    if not ents.limit and not top_limit(text) and (time or len(after) > len(before)):
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
    known = {m for _, m in MEASURES} | {"transactions", "gross_revenue"}
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
    time = [d for d in dims if d in TIME_DIMENSIONS]
    args = {
        "measures": measures,
        "dimensions": dims,
        "filters": entity_filters(ents, skip),
        "time_range": time_range_of(ents),
        "order_by": [{"field": d, "descending": False} for d in time]
        or [{"field": measures[0], "descending": True}],
        "limit": ents.limit or top_limit(text) or 500,
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
    before = [c for c in columns if c in FAN_COLUMNS]
    after = dims if replace else [*before, *(d for d in dims if d not in before)]
    if any(d not in FAN_COLUMNS for d in after):
        return None
    genres = _FAN_GENRES.search(sql)
    where = f" {genres.group(0)}" if genres else ""
    listed = ", ".join(f"{FAN_COLUMNS[d]} AS {d}" for d in after)
    groups = ", ".join(str(i + 1) for i in range(len(after)))
    fans = Call(
        "run_sql",
        {
            "sql": f"SELECT {listed}, count(*) AS fans FROM fans{where} GROUP BY {groups} "
            "ORDER BY fans DESC"
        },
    )
    return fans, _regroup_note(["fans"], before, after, {})
