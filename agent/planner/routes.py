"""Which plan answers which intent (DESIGN §5): intent + entities + dialogue state → steps."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from agent.planner.analysis import correlation, measure_pair, scatter
from agent.planner.entities import Entities
from agent.planner.lookups import asks_history, concert_history, fan_base_question
from agent.planner.partner import without_buyers
from agent.planner.plans import (
    Plan,
    Step,
    chart_after,
    chart_args,
    default_date,
    fixed_call,
    ids_of,
    query_step,
    state_artist,
)
from agent.planner.questions import data_question, question_dimensions
from agent.planner.recipes import (
    asks_cohorts,
    asks_month_over_month,
    asks_near,
    asks_show_plan,
    cohorts,
    month_over_month,
    near_args,
    show_plan,
    state_map,
)
from agent.planner.regroup import (
    is_refinement,
    refine,
    regroup,
    regrouped_note,
    regrouping,
    sql_regroup,
)
from agent.planner.rules import CHART_WORDS, OPERATIONS, override
from agent.planner.state import Call, DialogueState
from agent.planner.venues import relax_when_empty, seat_bounds, venue_map, venues_by_size

_SQL = re.compile(
    r"\b(select|with|insert|update|delete|drop|create|alter|pragma|attach|detach|copy|install|"
    r"load|checkpoint|set|reset|export|import|vacuum|call|describe|summarize|explain|use)\b.*",
    re.I | re.S,
)
_AFTER_SQL = re.compile(r"\bsql\b\s*(?:query|statement)?\s*:\s*(.+)$", re.I | re.S)


def _sql_in(text: str) -> str | None:
    """The SQL in "run this SQL: ...", else from its first SQL keyword; None when there is none."""
    m = _AFTER_SQL.search(text) or _SQL.search(text)
    if m is None:
        return None
    sql = (m.group(1) if m.re is _AFTER_SQL else m.group(0)).strip().rstrip(";").strip()
    return sql or None


_PRONOUN = re.compile(r"\b(they|their|them|he|she|his|her)\b", re.I)
_ASKS = re.compile(
    r"\b(concerts?|shows?|gigs?|recommend|suggest|should i|attend|go to|see)\b", re.I
)


_INGEST_FILE = re.compile(
    r"\b(?:ingest|load|import)\b.{0,20}?(?P<path>(?:~|\.{0,2}/)\S+?\.(?:csv|tsv|json|jsonl|"
    r"ndjson|xml)(?:\.gz)?)\b",
    re.I,
)


def build_plan(
    intent: str, text: str, ents: Entities, state: DialogueState, prefs: dict[str, Any], today: date
) -> Plan:
    """The plan for one user message."""
    intent = override(intent, text, ents, state)
    if intent in _AGGREGATES:
        ents = _state_not_city(ents, text)
    plan = Plan(intent)
    if intent in OPERATIONS:
        name, args = OPERATIONS[intent]
        plan.steps.append(fixed_call(name, **args))
        return plan
    if intent != "refuse_write" and (named_file := _INGEST_FILE.search(text)):
        # "ingest the file /data/uploads/sales.csv": held back until the user confirms
        plan.intent = "ingest_file"
        plan.steps.append(fixed_call("ingest_file", path=named_file.group("path"), confirm=False))
        return plan
    if intent == "refuse_write":
        plan.notes.append(
            "I can only read Encore's data: I won't change, wipe or delete anything. "
            "Ask me a question about the data instead."
        )
        return plan
    if intent == "refuse_instructions":
        plan.notes.append(
            "I can't take on another role or set my instructions aside. I answer questions about "
            "concerts, artists, venues and ticket sales from Encore's data."
        )
        return plan
    if intent == "refuse_private":
        plan.notes.append(
            "I can't share personal details such as emails, addresses or phone numbers: they "
            "are not available to me. I can count fans by age band, country or favourite genre."
        )
        return plan
    if not CHART_WORDS.search(text) and _regrouped(plan, text, ents, state, today):
        return plan
    if (
        CHART_WORDS.search(text)
        and re.search(r"\bmap\b", text, re.I)
        and re.search(r"\bvenues?\b", text, re.I)
    ):
        plan.intent = "venue_map"
        plan.steps += [venue_map(ents), chart_after("map")]
        return plan
    if intent not in _NOT_A_TASK and asks_show_plan(text):
        plan.intent = "plan_a_show"
        if artist := state_artist(ents, state):
            plan.subject = artist
            show_plan(plan, artist, ents, today, text)
        else:
            plan.notes.append(
                "Which artist? For example: 'Plan a show for <artist> near <city> on <date>'."
            )
        return plan
    if intent not in _NOT_A_TASK and asks_cohorts(text):
        cohorts(plan, text)
        return plan
    if intent not in _NOT_A_TASK and asks_month_over_month(text):
        month_over_month(plan, text, ents, today)
        return plan
    played_by = ents.artists[0] if ents.artists else state.artist if _PRONOUN.search(text) else None
    if intent not in _NOT_A_TASK and played_by and asks_history(text):
        # the concerts themselves, latest first, as the artist's profile lists them
        plan.intent, plan.subject = "concert_history", played_by
        plan.steps.append(concert_history(played_by))
        return plan
    map_word = CHART_WORDS.search(text) and re.search(r"\bmap\b", text, re.I)
    if map_word and "state" in question_dimensions(text):
        state_map(plan, text, ents)  # one dot per state, at its centre
        return plan
    if intent in _ABOUT_DATA and (pair := measure_pair(text)):
        # two measures against each other: per concert, not one total of each
        if _CORRELATION.search(text):
            plan.intent = "correlation"
            plan.steps.append(correlation(pair, ents))
            return plan
        if re.search(r"\bscatter", text, re.I):
            plan.intent = "data_question"
            plan.steps += scatter(pair, ents)
            return plan
    sized = intent in _ABOUT_DATA or (intent == "artist_venues" and not ents.artists)
    if sized and (by_size := venues_by_size(text, ents)):
        plan.intent = "data_question"
        plan.steps.append(by_size)
        if CHART_WORDS.search(text):
            plan.steps.append(chart_after("bar"))
        return plan
    if intent in ("upcoming_concerts", "sellout_prediction") and _LOW_CONFIDENCE.search(text):
        plan.intent = "low_confidence"
        _sellouts(plan, ents, state, today, batch=100)
        return plan
    last = state.stood_in_for or state.last_call
    if last is not None and (
        intent == "refine"
        or (
            is_refinement(text)
            and intent not in ("chart_request", "sellout_prediction")
            and not intent.startswith("memory")
        )
    ):
        plan.intent = "refine"
        plan.steps.append(lambda _d: refine(last, ents, text, today))
        plan.steps.append(without_buyers(plan))  # the role may differ from the last query's
        plan.steps += [relax_when_empty(plan) for _ in range(6)]  # one filter at a time
        return plan
    artist = state_artist(ents, state)
    if intent == "artist_profile":
        if artist:
            plan.steps.append(fixed_call("artist_profile", artist=artist))
    elif intent == "similar_artists":
        if artist:
            plan.steps.append(fixed_call("similar_artists", artist=artist, limit=ents.limit or 10))
    elif intent == "artist_venues":
        if artist:
            plan.steps.append(
                query_step(
                    ["concerts", "tickets_sold"],
                    ["venue", "city", "state"],
                    _with_artist(ents, artist),
                    limit=10,
                )
            )
    elif intent == "artist_compare_genre":
        plan.subject = artist  # the answer leads with this artist's rank in the genre
        if artist:
            _genre_compare(plan, ents, state, artist)
    elif intent == "venue_ranking" or (intent == "venue_for_artist" and not ents.artists):
        place = _carried_place(ents, state)
        carried = () if ents.cities or ents.states else ("city", "state")
        plan.steps.append(
            fixed_call(
                "venue_ranking",
                city=place.get("city"),
                state=place.get("state"),
                genre=_first(ents.genres),
                capacity_band=ents.capacity_band,
                venue_type=_first(ents.venue_types),
                **seat_bounds(ents, text),
                limit=ents.limit or 10,
            )
        )
        plan.steps += [relax_when_empty(plan, carried) for _ in range(8)]  # one at a time
    elif intent == "venue_for_artist":
        named = ents.artists[0]
        near = near_args(text, ents, named) if asks_near(text) else {}
        where = near or {"city": _first(ents.cities), "state": _first(ents.states)}
        plan.steps.append(fixed_call("venues_for_artist", artist=named, **where))
    elif intent == "upcoming_concerts":
        args = _upcoming_args(ents, today)
        if not args["artist"] and _PRONOUN.search(text):
            args["artist"] = state.artist
        if not args["venue"] and (unknown := _unknown_venue(text, ents)):
            args["venue"] = unknown  # the tool says there is none and names close ones
        plan.steps.append(fixed_call("upcoming_concerts", **args))
    elif intent in ("recommend_concerts", "preference_statement"):
        _preferences(plan, intent, text, ents, prefs, today)
    elif intent == "sellout_prediction":
        _sellouts(plan, ents, state, today)
    elif intent == "predict_sales":
        if artist and ents.venues:
            day = default_date(ents, today)
            plan.steps.append(
                fixed_call(
                    "predict_ticket_sales",
                    artist=artist,
                    venue=ents.venues[0],
                    date=day,
                    price=ents.budget,
                )
            )
            if not (ents.dates and ents.dates.start):
                plan.caveats.append(f"(No date was given: this is for {day}, four weeks from now.)")
    elif intent == "sales_trend":
        past_year: dict[str, str | None] = {
            "start": (today - timedelta(days=365)).isoformat(),
            "end": today.isoformat(),
        }
        measure = "gross_revenue" if re.search(r"revenue|gross", text, re.I) else "tickets_sold"
        grain = "quarter" if "quarter" in text.lower() else "month"
        plan.steps += [
            query_step(
                [measure], [grain], ents, limit=60, time_range=None if ents.dates else past_year
            ),
            chart_after("line"),
        ]
        plan.steps[0] = _ordered_by_time(plan.steps[0], grain)
    elif intent == "genre_popularity":
        plan.steps += [
            query_step(
                ["tickets_sold", "gross_revenue", "concerts"],
                ["genre"],
                ents,
                skip=("genre",),
                limit=100,  # every genre; the answer shows the top ones
            ),
            chart_after("bar"),
        ]
    elif intent == "compare_sales":
        dim = _compare_dimension(text, ents)
        money = bool(re.search(r"revenue|gross|money|earn", text, re.I))
        plan.steps += [
            query_step(
                ["gross_revenue", "tickets_sold", "concerts"]
                if money
                else ["tickets_sold", "gross_revenue", "concerts"],
                [dim],
                ents,
                # the things compared stay as the filter when several are named ("X and Y")
                skip=()
                if (dim in ("venue", "city") and len(ents.venues + ents.cities) < 2)
                or (dim == "artist" and len(ents.artists) >= 2)
                or (dim == "genre" and len(ents.genres) >= 2)
                else (dim,),
            ),
            chart_after("bar"),
        ]
    elif intent == "chart_request":
        if state.last_table and state.last_table["rows"]:
            kind = _chart_kind(text)
            table = state.last_table
            plan.steps.append(lambda _d: Call("make_chart", chart_args(kind, table)))
        else:
            plan.notes.append(
                "There is no table yet to chart: ask a question first, then say 'chart that'."
            )
    elif intent == "data_question":
        plan.steps += [
            fan_base_question(text, ents) or data_question(text, ents),
            without_buyers(plan),
        ]
    elif intent == "run_sql":
        if sql := _sql_in(text):
            plan.steps.append(fixed_call("run_sql", sql=sql))
    elif intent in ("external_lookup", "popularity_vs_history"):
        if artist:
            _lookup(plan, intent, text, artist)
    elif intent == "memory_recall":
        plan.steps.append(fixed_call("recall_memory"))
    elif intent == "memory_forget":
        what = next(
            (
                k
                for k in ("genres", "artists", "city", "state", "budget")
                if k.rstrip("s") in text.lower()
            ),
            None,
        )
        if what is None and re.search(r"\b(that|it)\b", text, re.I):
            what = state.last_remembered  # "forget that": the last thing I was told
        plan.steps.append(lambda _d: Call("forget_memory", {"what": what} if what else {}))
    asked_chart = CHART_WORDS.search(text)
    charted = ("chart_request", "sales_trend", "genre_popularity", "compare_sales")
    if asked_chart and plan.steps and intent not in charted:
        word = asked_chart.group(1).lower()
        plan.steps.append(chart_after("map" if word == "map" else _chart_kind(text)))
    if not plan.steps and intent not in ("greeting", "out_of_scope") and not plan.notes:
        plan.notes.append(_missing(intent))
    return plan


def _regrouped(plan: Plan, text: str, ents: Entities, state: DialogueState, today: date) -> bool:
    """ "And by age band?", "by channel instead", "now by month": the session's last query
    grouped anew, with its measures, filters and dates; raw SQL, which cannot be regrouped,
    asked anew by the dimensions named. False when the message is not such a follow-up."""
    asked = regrouping(text, ents)
    # a fallback's raw SQL (the fans counted for a role that may not link sales to buyers)
    # stands in for the query asked, which is regrouped instead
    last = state.stood_in_for or state.last_sql or state.last_call
    if asked is None or last is None or last.name not in ("semantic_query", "run_sql"):
        return False
    dims, replace = asked
    plan.intent = "refine"
    if last.name == "run_sql":
        call, note = sql_regroup(last, ents, text, dims, replace)
    else:
        answered = last is not state.stood_in_for
        call, note = regroup(last, ents, text, today, dims, replace, answered=answered)
    plan.notes.append(note)
    plan.steps += [
        lambda _d: call,
        without_buyers(plan),
        regrouped_note(plan, last, call, answered=last is not state.stood_in_for),
    ]
    return True


def _chart_kind(text: str) -> str:
    lowered = text.lower()
    for kind in ("scatter", "heatmap", "line", "bar"):
        if kind in lowered:
            return kind
    return (
        "line" if re.search(r"monthly|weekly|over time|trend|by month|by week", lowered) else "bar"
    )


_CORRELATION = re.compile(r"\bcorrelat|\brelationship\b|\brelate[sd]?\b|\baffects?\b", re.I)
_LOW_CONFIDENCE = re.compile(
    r"\b(low|lowest|least|poor|weak)[- ]confidence\b|\bnot confident\b|\buncertain", re.I
)
# questions about the data, whatever the classifier's finer label
_ABOUT_DATA = (
    "data_question",
    "chart_request",
    "compare_sales",
    "genre_popularity",
    "sales_trend",
    "venue_ranking",
    "venue_for_artist",
    "run_sql",
    "refine",
)
# intents a task word ("plan", "cohort", "month over month") does not turn into a task
_NOT_A_TASK = ("memory_recall", "memory_forget", "greeting")
_AGGREGATES = ("data_question", "sales_trend", "genre_popularity", "compare_sales")
_CITY_OR_STATE = {"New York": "NY", "Washington": "WA"}


def _state_not_city(ents: Entities, text: str) -> Entities:
    """In totals, "New York" means the state unless the city is said ("New York City")."""
    if re.search(r"\bcity\b", text, re.I):
        return ents
    moved = [c for c in ents.cities if c in _CITY_OR_STATE]
    if not moved:
        return ents
    cities = [c for c in ents.cities if c not in moved]
    states = list(dict.fromkeys([*ents.states, *(_CITY_OR_STATE[c] for c in moved)]))
    return Entities(**{**ents.__dict__, "cities": cities, "states": states})


def _unknown_venue(text: str, ents: Entities) -> str | None:
    """A name no vocabulary knows, said as a place of concerts ("at Madison Square Garden")."""
    for name in ents.unmatched:
        if re.search(rf"\b(at|in)\s+(the\s+)?{re.escape(name)}", text):
            return name
    return None


def _first(values: list[str]) -> str | None:
    return values[0] if values else None


def _with_artist(ents: Entities, artist: str) -> Entities:
    return Entities(**{**ents.__dict__, "artists": [artist]})


def _ordered_by_time(step: Step, grain: str) -> Step:
    def ordered(done: list[Call]) -> Call | None:
        call = step(done)
        if call is not None:
            call.input["order_by"] = [{"field": grain, "descending": False}]
        return call

    return ordered


def _genre_compare(plan: Plan, ents: Entities, state: DialogueState, artist: str) -> None:
    genre = ents.genres[0] if ents.genres else state.genre
    if genre is None:
        plan.steps.append(fixed_call("artist_profile", artist=artist))

    def compare(done: list[Call]) -> Call | None:
        found = genre
        for call in done:
            if call.name == "artist_profile" and isinstance(call.result, dict):
                found = (call.result.get("artist") or {}).get("genre") or found
        if found is None:
            return None
        filters = [{"field": "genre", "op": "=", "value": found}]
        return Call(
            "semantic_query",
            {
                "measures": ["tickets_sold", "concerts", "sell_through"],
                "dimensions": ["artist"],
                "filters": filters,
                "order_by": [{"field": "tickets_sold", "descending": True}],
                "limit": 500,
            },
        )

    plan.steps.append(compare)


def _carried_place(ents: Entities, state: DialogueState) -> dict[str, str | None]:
    if ents.cities or ents.states:
        return {"city": _first(ents.cities), "state": _first(ents.states)}
    last = state.last_call
    if last is not None and last.name == "venue_ranking":
        return {"city": last.input.get("city"), "state": last.input.get("state")}
    return {}


def _upcoming_args(ents: Entities, today: date) -> dict[str, Any]:
    start = ents.dates.start if ents.dates and ents.dates.start else today
    return {
        "artist": _first(ents.artists),
        "venue": _first(ents.venues),
        "city": _first(ents.cities),
        "state": _first(ents.states),
        "genres": ents.genres,
        "date_from": max(start, today).isoformat(),
        "date_to": ents.dates.end.isoformat() if ents.dates and ents.dates.end else None,
        "limit": ents.limit or 20,
    }


def _preferences(
    plan: Plan, intent: str, text: str, ents: Entities, prefs: dict[str, Any], today: date
) -> None:
    stated: list[tuple[str, Any]] = []
    if re.search(r"\b(i|i'm|im|my)\b", text, re.I):
        stated += [("genres", g) for g in ents.genres]
        if re.search(r"\b(like|love|fan|favou?rite|enjoy|into)\b", text, re.I):
            stated += [("artists", a) for a in ents.artists]
        if re.search(r"\b(live|living|based|moved|stay)\b", text, re.I):
            stated += [("city", c) for c in ents.cities[:1]] + [
                ("state", s) for s in ents.states[:1]
            ]
        if ents.budget is not None:
            stated.append(("budget", ents.budget))
    # one call per kind; lists go comma-separated (remember_preference takes value: str)
    grouped: dict[str, list[str]] = {}
    for kind, value in stated:
        text_value = f"{value:g}" if isinstance(value, float) else str(value)
        grouped.setdefault(kind, []).append(text_value)
    for kind, values in grouped.items():
        plan.steps.append(fixed_call("remember_preference", kind=kind, value=", ".join(values)))
    if intent == "recommend_concerts" or _ASKS.search(text):
        genres = list(dict.fromkeys([*ents.genres, *prefs.get("genres", [])]))
        args = _upcoming_args(ents, today)
        plan.steps.append(
            fixed_call(
                "recommend_concerts",
                fan_id=ents.fan_id,
                genres=genres,
                artists=list(dict.fromkeys([*ents.artists, *prefs.get("artists", [])])),
                city=args["city"] or prefs.get("city"),
                state=args["state"] or prefs.get("state"),
                budget=ents.budget if ents.budget is not None else prefs.get("budget"),
                date_from=args["date_from"] if ents.dates else None,
                date_to=args["date_to"],
                limit=ents.limit or 10,
            )
        )


def _sellouts(
    plan: Plan, ents: Entities, state: DialogueState, today: date, batch: int = 10
) -> None:
    if state.concert_ids and not (ents.artists and ents.venues) and not ents.dates:
        ids = state.concert_ids[:10]
        plan.steps.append(fixed_call("predict_concerts", concert_ids=ids))
    elif ents.artists and ents.venues:
        plan.steps.append(
            fixed_call(
                "predict_ticket_sales",
                artist=ents.artists[0],
                venue=ents.venues[0],
                date=default_date(ents, today),
            )
        )
    else:
        args = _upcoming_args(ents, today)
        args["limit"] = ents.limit or max(args["limit"], batch)
        plan.steps.append(fixed_call("upcoming_concerts", **args))

        def predict(done: list[Call]) -> Call | None:
            ids = ids_of(done[-1]) if done else []
            return Call("predict_concerts", {"concert_ids": ids[:batch]}) if ids else None

        plan.steps.append(predict)


def _compare_dimension(text: str, ents: Entities) -> str:
    lowered = text.lower()
    named = [d for d in question_dimensions(text) if d not in ("venue", "city")]
    if named:
        return named[0]  # "which sales channel brings the most revenue?"
    if len(ents.artists) >= 2:
        return "artist"
    if len(ents.genres) >= 2:
        return "genre"
    if len(ents.cities) >= 2 or "cities" in lowered:
        return "city"
    if "states" in lowered:
        return "state"
    return "venue"


def _lookup(plan: Plan, intent: str, text: str, artist: str) -> None:
    lowered = text.lower()
    source = (
        "ticketmaster"
        if "ticketmaster" in lowered
        else "setlistfm"
        if "setlist" in lowered
        else "spotify"
    )
    kind = (
        "events"
        if source == "ticketmaster" or re.search(r"concerts?|events?|tour|shows?", lowered)
        else "artist"
    )
    if intent == "popularity_vs_history":
        source, kind = "spotify", "artist"
    plan.steps.append(fixed_call("lookup_source", source=source, query=artist, kind=kind))
    if kind == "events":
        # our own schedule answers too, whether or not the source can be reached
        plan.steps.append(fixed_call("upcoming_concerts", artist=artist, limit=10))
    if intent == "popularity_vs_history":
        plan.steps.append(fixed_call("artist_profile", artist=artist))


def _missing(intent: str) -> str:
    asks = {
        "artist_profile": "Which artist? For example: 'Tell me about <artist name>'.",
        "artist_venues": "Which artist? Name one first, e.g. 'Tell me about <artist>'.",
        "artist_compare_genre": "Which artist should I compare? Name one first.",
        "predict_sales": (
            "Name an artist and a venue, e.g. 'How many tickets would <artist> sell at <venue>?'."
        ),
        "external_lookup": "Which artist should I look up?",
        "popularity_vs_history": "Which artist should I compare?",
        "run_sql": "Type the SQL after 'run sql:'.",
    }
    return asks.get(intent, "I need a little more detail to answer that.")
