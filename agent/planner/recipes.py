"""Plans of several steps for tasks one query does not answer: a show planned from the venues that
fit an artist and forecasts for the best two, a measure by US state on a map, and the sandbox's
analysis templates (retention by cohort, month-over-month change).

Steps that only read what came back add a note that leads the answer (the notes come first;
caveats follow the lead); they return None, so replaying the plan over the same results still
gives the same calls."""

from __future__ import annotations

import csv
import functools
import re
from datetime import date
from typing import Any

from agent.planner.composer import fmt, partial_extract
from agent.planner.entities import Entities
from agent.planner.intents import DATA
from agent.planner.plans import Plan, Step, default_date, fixed_call, sql_literal
from agent.planner.questions import data_question
from agent.planner.state import Call, records, table_of
from tools.interpreter.templates import TEMPLATES

_PLAN_SHOW = re.compile(
    r"\bplan(?:ning)?\s+(?:a|an|the|my|our|their)?\s*(?:new\s+)?"
    r"(?:show|concert|gig|tour stop|date|night)\b",
    re.I,
)
_PEOPLE = r"(?:fans?|customers?|buyers?|audiences?)"
_COHORT = re.compile(
    rf"\bcohorts?\b|\b{_PEOPLE}\b.*\b(?:retention|retain(?:ed)?|(?:come|came|coming) back)\b|"
    rf"\b(?:retention|retain)\b.*\b{_PEOPLE}\b|\brepeat (?:buyers|customers|fans|purchases)\b",
    re.I,
)
_MONTH_OVER_MONTH = re.compile(r"\bmonth[- ](?:over|on|to)[- ]month\b|\bm-?o-?m\b", re.I)
_CHANGE = re.compile(
    r"\b(growth|grow(s|n|ing)?|chang(e|es|ed|ing)|increases?|decreases?|rises?|falls?|drops?|"
    r"deltas?|percent(age)?|python|code|script)\b|%",
    re.I,
)
_CODE = re.compile(r"\b(python|code|script|pandas)\b", re.I)
# "near Ann Arbor": a place the vocabulary does not know (no venue there) is passed as typed, and
# venues_for_artist places it from its list of cities or names close spellings
_NEAR = re.compile(
    r"\b(?:near|around|close to|outside(?: of)?)\s+([A-Z][\w'.-]*(?:\s+[A-Z][\w'.-]*)*)"
)
_NEAR_WORDS = re.compile(r"\b(?:near|nearby|around|close to|outside|within)\b", re.I)
_WITHIN = re.compile(r"\bwithin\s+(\d+(?:\.\d+)?)\s*(km|kilomet(?:er|re)s?|mi|miles?)\b", re.I)
_KM_PER_MILE = 1.609344
_MONEY = re.compile(r"revenue|gross|money|earn", re.I)
_COUNTRY = "US"


def _note(plan: Plan, text: str, prefix: str) -> None:
    """Put `text` first among the notes, replacing an earlier one with the same prefix (a plan is
    walked once per step of a turn)."""
    plan.notes[:] = [n for n in plan.notes if not n.startswith(prefix)]
    plan.notes.insert(0, text)


# -- plan a show -------------------------------------------------------------------------------


def asks_show_plan(text: str) -> bool:
    """ "Plan a show for <artist> near <city> on <date>" (the MCP prompt plan_a_show)."""
    return bool(_PLAN_SHOW.search(text))


def near_args(text: str, ents: Entities, artist: str | None = None) -> dict[str, Any]:
    """venues_for_artist's arguments for "near <city>": `near` (the city named, else a place
    typed after "near"), the `state` that says which city is meant, and `within_km` when the
    message gives a distance ("within 50 miles"). Empty when no city is named."""
    city = ents.cities[0] if ents.cities else None
    if city is None and not ents.states and (m := _NEAR.search(text)):
        city = m.group(1) if m.group(1) != artist else None
    if city is None:
        return {}
    args: dict[str, Any] = {"near": city}
    if ents.states:
        args["state"] = ents.states[0]
    if m := _WITHIN.search(text):
        miles = m.group(2).lower().startswith("mi")
        args["within_km"] = round(float(m.group(1)) * (_KM_PER_MILE if miles else 1.0), 1)
    return args


def asks_near(text: str) -> bool:
    """ "Near Chicago", "around Austin", "within 50 miles of ...": a radius, not one city."""
    return bool(_NEAR_WORDS.search(text))


def show_plan(plan: Plan, artist: str, ents: Entities, today: date, text: str) -> None:
    """The plan_a_show prompt's steps: the venues that fit the artist near the city named (within
    150 km of it, or the distance given) or in the state named, then a forecast at the best two
    on the day named; a note compares the two forecasts."""
    near = near_args(text, ents, artist)
    city = near.get("near")
    state = ents.states[0] if ents.states and not city else None
    place = city or state
    day = default_date(ents, today)
    where_args = near or ({"state": state} if state else {})
    plan.steps.append(fixed_call("venues_for_artist", artist=artist, **where_args, limit=5))

    def anywhere(done: list[Call]) -> Call | None:
        # nothing fits in that place: the best anywhere, and the note says so
        if not place or len(done) != 1 or records(done[0].result) or done[0].error:
            return None
        result = done[0].result
        reach = result.get("reach") if isinstance(result, dict) else None  # "within 150 km of X"
        where = reach if city and reach else f"near {city}" if city else f"in {place}"
        note = f"No venue {where} fits {artist}, so these are the best anywhere."
        plan.notes[:] = [*(n for n in plan.notes if n != note), note]
        return Call("venues_for_artist", {"artist": artist, "limit": 5})

    def forecast(k: int) -> Step:
        def step(done: list[Call]) -> Call | None:
            found = [c for c in done if c.name == "venues_for_artist"]
            fits = records(found[-1].result) if found else []
            if len(fits) <= k:
                return None
            venue = str(fits[k]["venue"])
            return Call("predict_ticket_sales", {"artist": artist, "venue": venue, "date": day})

        return step

    def compare(done: list[Call]) -> Call | None:
        found = [c.result for c in done if c.name == "predict_ticket_sales" and c.error is None]
        items = [r for r in found if isinstance(r, dict) and r.get("venue")]
        where = f" near {city}" if city else f" in {state}" if state else ""
        if len(items) >= 2:
            best, other = sorted(items, key=lambda r: -float(r.get("tickets_sold") or 0))[:2]
            _note(
                plan,
                f"Plan for {artist}{where} on {day}: {best['venue']} is the stronger of the two "
                f"best-fitting venues, {fmt(best.get('tickets_sold'))} tickets and "
                f"{fmt(best.get('gross'), 'gross')} gross forecast (confidence "
                f"{fmt(best.get('confidence'), 'confidence')}), against "
                f"{fmt(other.get('tickets_sold'))} tickets and {fmt(other.get('gross'), 'gross')} "
                f"at {other['venue']} (confidence {fmt(other.get('confidence'), 'confidence')}).",
                "Plan for",
            )
        elif len(items) == 1:
            _note(
                plan,
                f"Plan for {artist}{where} on {day}: only one venue fits, {items[0]['venue']}, so "
                "there is one forecast rather than two.",
                "Plan for",
            )
        return None

    plan.steps += [anywhere, forecast(0), forecast(1), compare]
    if not (ents.dates and ents.dates.start):
        plan.caveats.append(
            f"(No date was given: the forecasts are for {day}, four weeks from now.)"
        )


# -- a measure by state on a map ---------------------------------------------------------------


@functools.cache
def _centres() -> dict[str, tuple[float, float]]:
    """Approximate geographic centres of the US states and DC (a dot for each on the map)."""
    with (DATA / "us_state_centres.csv").open(newline="", encoding="utf-8") as handle:
        return {
            r["state"]: (float(r["latitude"]), float(r["longitude"]))
            for r in csv.DictReader(handle)
        }


def state_map(plan: Plan, text: str, ents: Entities) -> None:
    """ "Gross revenue by state on a map": the measure by US state, drawn as one dot per state at
    its centre. Venues elsewhere are left out (their states and provinces are other countries'),
    and a note says so rather than mixing ENG with NC."""
    ask = data_question(text, ents)
    country = {"field": "country", "op": "=", "value": _COUNTRY}

    def query(done: list[Call]) -> Call | None:
        call = ask(done)
        if call is not None:
            call.input["filters"] = [*call.input.get("filters", []), country]
        return call

    def chart(done: list[Call]) -> Call | None:
        table = table_of(done[-1].result) if done else None
        if table is None or "state" not in table["columns"]:
            return None
        at = table["columns"].index("state")
        rows = [[*r, *_centres()[r[at]]] for r in table["rows"] if r[at] in _centres()]
        if not rows:
            return None
        measure = next(c for c in table["columns"] if c != "state")
        return Call(
            "make_chart",
            {
                "kind": "map",
                "table": {"columns": [*table["columns"], "latitude", "longitude"], "rows": rows},
                "x": "state",
                "y": measure,
                "title": f"{measure.replace('_', ' ')} by US state",
            },
        )

    plan.intent = "state_map"
    plan.steps += [query, chart]
    plan.caveats.append(
        "US venues only: states and provinces of other countries are left out so that they "
        "don't mix with the US states ('… by country' shows every country)."
    )


# -- sandbox analysis templates ----------------------------------------------------------------


def asks_cohorts(text: str) -> bool:
    """Retention of fans by the month they first bought ("fan retention by cohort")."""
    return bool(_COHORT.search(text))


def asks_month_over_month(text: str) -> bool:
    """ "Month-over-month growth in tickets sold": the change, not the monthly figures alone
    ("attendance month over month" is a trend)."""
    return bool(_MONTH_OVER_MONTH.search(text) and _CHANGE.search(text))


def cohorts(plan: Plan, text: str) -> None:
    """The sandbox's fan_cohorts template; the note gives the share of fans who buy again."""
    months = re.search(r"\b(\d{1,2})\s+months?\b", text)
    params = {"max_months": int(months.group(1))} if months else {}
    plan.intent = "analysis"
    # the template's own SQL counts the fans per cohort and month in SQL, so its extract fits
    # under the role's row cap (a row per fan and month did not: 302,814 rows on the default
    # scale against the analyst's 5,000)
    plan.steps.append(fixed_call("run_analysis", template="fan_cohorts", params=params))

    def summary(done: list[Call]) -> Call | None:
        next_month = _next_month_retention(_analysis_rows(done))
        if not next_month:
            return None
        best = max(next_month, key=lambda cohort: next_month[cohort])
        # the role's row cap cut the extract: the figures cover part of the fans (the analysis
        # below gives the tool's note in full)
        result = _analysis_result(done)
        cut = (
            "These figures cover only part of the data: the role's row cap cut the extract."
            if partial_extract(result)
            else ""
        )
        _note(
            plan,
            f"Fan retention by cohort (fans grouped by the month of their first purchase): on "
            f"average {sum(next_month.values()) / len(next_month):.0%} of a cohort bought again "
            f"the month after, over {len(next_month)} cohorts; the best, {best}, "
            f"{next_month[best]:.0%}. Each column is months after the first purchase, each "
            "value the share of the cohort buying that month (blank: none did, or not yet known)."
            + (f" {cut}" if cut else ""),
            "Fan retention by cohort",
        )
        return None

    plan.steps.append(summary)


def month_over_month(plan: Plan, text: str, ents: Entities, today: date) -> None:
    """The sandbox's month_over_month template on completed concerts in the places and dates
    named; the note gives the latest change and the biggest rise and fall, in percent."""
    measure = "gross_revenue" if _MONEY.search(text) else "tickets_sold"
    args: dict[str, Any] = {"template": "month_over_month", "params": {"measure": measure}}
    if where := _concert_conditions(ents):
        args["sql"] = (
            "SELECT strftime(p.event_date, '%Y-%m') AS month, SUM(p.tickets_sold) AS tickets_sold, "
            "SUM(p.gross_revenue) AS gross_revenue FROM concert_performance p "
            "JOIN venues v USING (venue_id) JOIN artists a USING (artist_id) "
            f"WHERE p.status = 'completed' AND {' AND '.join(where)} GROUP BY 1 ORDER BY 1"
        )
    plan.intent = "analysis"
    plan.steps.append(lambda _done: Call("run_analysis", args))

    def summary(done: list[Call]) -> Call | None:
        rows = [r for r in _analysis_rows(done) if isinstance(r.get("change_pct"), int | float)]
        if not rows:
            return None
        last = rows[-1]
        rise = max(rows, key=lambda r: r["change_pct"])
        fall = min(rows, key=lambda r: r["change_pct"])
        what = measure.replace("_", " ")
        so_far = " (so far)" if last["month"] == today.strftime("%Y-%m") else ""
        code = (
            "\n\nThe Python, run in the sandbox on the monthly totals as `df` (the "
            f"month_over_month template):\n```python\n{TEMPLATES['month_over_month'].code}```"
            if _CODE.search(text)
            else ""
        )
        _note(
            plan,
            f"Month-over-month change in {what}: {last['month']}{so_far} "
            f"{fmt(last.get(measure), measure)}, {_pct(last['change_pct'])} on the month "
            "before; the biggest rise "
            f"{_pct(rise['change_pct'])} in {rise['month']}, the biggest fall "
            f"{_pct(fall['change_pct'])} in {fall['month']}.{code}",
            "Month-over-month change",
        )
        return None

    plan.steps.append(summary)


def _month_index(month: str) -> int:
    return int(month[:4]) * 12 + int(month[5:7])


def _next_month_retention(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Each cohort's share buying again the month after its first, where that month is in the
    data: a blank there is nobody (0), unless the data ends before it."""
    seen = [
        _month_index(str(r["cohort"])) + int(k)
        for r in rows
        for k, v in r.items()
        if k.isdigit() and isinstance(v, int | float)
    ]
    if not seen:
        return {}
    last = max(seen)
    return {
        str(r["cohort"]): float(r["1"]) if isinstance(r.get("1"), int | float) else 0.0
        for r in rows
        if _month_index(str(r["cohort"])) + 1 <= last
    }


def _pct(value: float) -> str:
    return f"{value:+,.1f}%"


def _analysis_result(done: list[Call]) -> Any:
    found = [c for c in done if c.name == "run_analysis" and c.error is None]
    return found[-1].result if found else None


def _analysis_rows(done: list[Call]) -> list[dict[str, Any]]:
    result = _analysis_result(done)
    if not isinstance(result, dict) or result.get("error"):
        return []
    tables = result.get("tables") or []
    return records(tables[0]) if tables else []


def _concert_conditions(ents: Entities) -> list[str]:
    """SQL conditions for the places, genres, artists and dates a message names."""
    where: list[str] = []
    for column, values in (
        ("v.state", ents.states),
        ("v.city", ents.cities),
        ("v.name", ents.venues),
        ("a.genre", ents.genres),
        ("a.name", ents.artists),
    ):
        if values:
            where.append(f"{column} IN ({', '.join(map(sql_literal, values))})")
    if ents.dates and ents.dates.start:
        where.append(f"p.event_date >= DATE '{ents.dates.start.isoformat()}'")
    if ents.dates and ents.dates.end:
        where.append(f"p.event_date <= DATE '{ents.dates.end.isoformat()}'")
    return where
