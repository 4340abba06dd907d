"""Answers written from tool results: key numbers, a short table, the SQL, plain error messages."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Final

from agent.formatting import fmt as fmt  # re-exported: recipes and the model write with it
from agent.formatting import is_number as _is_number
from agent.formatting import markdown as markdown
from agent.formatting import units
from agent.planner.state import Call, records, table_of
from tools.results import held_back_action

CAPABILITIES: Final = (
    "- 'Tell me about <artist>' — profile, history and genre standing\n"
    "- 'What are the best venues in <city> for rock concerts?'\n"
    "- 'Show me the trend of concert attendance over the past year'\n"
    "- 'I like jazz. What concerts should I attend?' — recommendations\n"
    "- 'How many tickets would <artist> sell at <venue>?' — predictions\n"
    "- 'Chart that', 'only in Texas', 'what about 2023?' — follow-ups"
)


def _sql(result: Any) -> str:
    sql = result.get("sql") if isinstance(result, dict) else None
    return f"\n\nSQL used:\n```sql\n{sql}\n```" if sql else ""


def explain_error(call: Call) -> str:
    """A tool failure in plain words."""
    text = (call.error or "").removeprefix("Error: ")
    lowered = text.lower()
    if call.name == "run_sql":
        reason = text.removeprefix("Error executing tool run_sql: ")
        # the query guard's reasons (writes, several statements, files, settings) are refusals
        refused = re.search(r"refus|allowed|only select|not permitted", lowered)
        return f"I {'won' if refused else 'can'}'t run that query: {reason}"
    if "refus" in lowered or "only select" in lowered or "not allowed" in lowered:
        return f"I won't run that query: {text}"
    if "may not" in lowered or "not available to role" in lowered:
        # the query policy keeps this from the caller's role: a refusal, not a failure
        reason = re.sub(r"^Error executing tool \w+:\s*", "", text)
        return f"That isn't available to your role: {reason}"
    if "unreachable" in lowered or "cannot be reached" in lowered or "network" in lowered:
        return f"The source can't be reached right now ({text})."
    if "unknown" in lowered or "did you mean" in lowered or "not found" in lowered:
        # the tool's own words, without how the error travelled ("Error executing tool x: ")
        reason = re.sub(r"^(Error executing tool \w+:\s*|\w+Error - )", "", text)
        return f"I couldn't find that name: {reason}"
    return f"The {call.name.replace('_', ' ')} step failed: {text}"


def compose(
    intent: str,
    calls: list[Call],
    notes: list[str],
    state_artist: str | None,
    caveats: Sequence[str] = (),
) -> str:
    """The final answer for a turn: the notes that lead it (a plan's summary of the results),
    what each call found, and the caveats right after the answer's lead sentence (what the
    data says comes first, then what it leaves out)."""
    if intent == "greeting":
        return (
            "Hi! I answer questions about concerts, artists, venues and ticket sales. Try:\n"
            + CAPABILITIES
        )
    if intent == "out_of_scope" or (not calls and not notes):
        return (
            "I can't answer that yet — it is outside what I understand. Here is what I can do:\n"
            + CAPABILITIES
        )
    parts: list[str] = list(notes)
    # a note that already says the row cap cut the data (the cohorts' summary) says it once
    cut_said = any(_CUT_SAID.search(n) for n in notes)
    for i, call in enumerate(calls):
        if _superseded(call, calls[i + 1 :]):
            continue
        if call.error is not None:
            parts.append(explain_error(call))
            continue
        if intent == "concert_history" and call.name == "run_sql":
            parts.append(_history(call, state_artist))
            continue
        if intent == "low_confidence" and call.name in ("upcoming_concerts", "predict_concerts"):
            parts.append(_low_confidence(call))
            continue
        if call.name == "run_analysis":
            parts.append(_analysis(call, state_artist, partial=not cut_said))
            continue
        writer = _WRITERS.get(call.name, _generic)
        parts.append(writer(call, state_artist))
    if intent == "popularity_vs_history":
        parts.append(_popularity_now_and_then(calls))
    return "\n\n".join(_with_caveats([p for p in parts if p], sum(bool(n) for n in notes), caveats))


def _with_caveats(parts: list[str], leads: int, caveats: Sequence[str]) -> list[str]:
    """`caveats` after the leading notes, or, without any, after the first part's lead sentence
    (its first paragraph)."""
    if not caveats:
        return parts
    if not leads and parts:
        lead, _, rest = parts[0].partition("\n\n")
        parts = [lead, *([rest] if rest else []), *parts[1:]]
        leads = 1
    return [*parts[:leads], *caveats, *parts[leads:]]


def _superseded(call: Call, later: list[Call]) -> bool:
    """An empty ranking asked again with fewer filters (venues.relax_when_empty) says nothing,
    nor does a query of columns the role may not read asked again without them
    (partner.without_buyers: its caveat says what was left out)."""
    if call.name == "semantic_query" and call.error and "not available to role" in call.error:
        return bool(later)
    return (
        call.name == "venue_ranking"
        and not records(call.result)
        and any(c.name == "venue_ranking" for c in later)
    )


def _popularity_now_and_then(calls: list[Call]) -> str:
    """Live popularity (when the source answered) against the warehouse's figures."""
    profile = next(
        (c.result for c in calls if c.name == "artist_profile" and c.error is None), None
    )
    lookup = next((c.result for c in calls if c.name == "lookup_source" and c.error is None), None)
    if not isinstance(profile, dict):
        return ""
    facts = profile.get("artist") or {}
    ours = facts.get("popularity")
    items = (lookup or {}).get("items") or [] if isinstance(lookup, dict) else []
    live = next(
        (i.get("popularity") for i in items if isinstance(i, dict) and "popularity" in i), None
    )
    if live is None:
        return (
            f"Without a current figure from the source, our data is what I can compare: "
            f"{facts.get('name')} has popularity {fmt(ours)} in our records."
        )
    change = float(live) - float(ours or 0)
    return (
        f"Current popularity {fmt(live)} vs {fmt(ours)} in our historical data "
        f"({'+' if change >= 0 else ''}{fmt(change)})."
    )


def _lead(call: Call, table: dict[str, Any]) -> str:
    """The answer's first sentence: what came first and by what, when the query ranked its rows
    by a measure ("web has the most gross revenue ($1.0M), then mobile ($707K)"); else the
    first row's values."""
    columns, rows = table["columns"], table["rows"]
    first = dict(zip(columns, rows[0], strict=False))
    # each amount in its column's unit, as the table under the sentence shows it
    unit = dict(zip(columns, units(table), strict=True))
    order = (call.input.get("order_by") or [None])[0] if call.name == "semantic_query" else None
    name = next((c for c in columns if isinstance(first.get(c), str)), None)
    # every dimension names the row: "Partner / vip", not "partner" alone
    named = [
        c
        for c in call.input.get("dimensions") or []
        if c in columns and isinstance(first.get(c), str)
    ] or ([name] if name else [])
    measures = call.input.get("measures") or []
    by_measure = isinstance(order, dict) and order.get("field") in measures
    if (
        isinstance(order, dict)
        and by_measure
        and order["field"] in columns
        and name
        and (len(rows) > 1)
    ):
        measure, most = str(order["field"]), bool(order.get("descending", True))
        second = dict(zip(columns, rows[1], strict=False))
        leader = " / ".join(str(first[c]) for c in named)
        runner_up = " / ".join(str(second[c]) for c in named)
        return (
            f"{leader[:1].upper() + leader[1:]} has the {'most' if most else 'least'} "
            f"{measure.replace('_', ' ')} "
            f"({fmt(first[measure], measure, unit[measure])}), then {runner_up} "
            f"({fmt(second[measure], measure, unit[measure])}); {len(rows)} rows in all."
        )
    values = ", ".join(f"{k.replace('_', ' ')} {fmt(v, k, unit[k])}" for k, v in first.items())
    if len(rows) == 1:
        return values[:1].upper() + values[1:] + "."
    return f"{len(rows)} rows; the first: {values}."


_WITHHELD: Final = re.compile(r"[^;]*\bare withheld for role [\w-]+")


def _withheld(result: Any) -> str:
    """What the query guard left out for the caller's role, from the result's `reason` ("fans
    groups of fewer than 10 rows are withheld for role partner"), as a paragraph; else ''."""
    reason = result.get("reason") if isinstance(result, dict) else None
    found = _WITHHELD.search(reason) if isinstance(reason, str) else None
    if found is None:
        return ""
    return f"\n\nNote: {found.group(0).strip()}, so they are not in this answer."


def _coverage(result: Any) -> str:
    """How much of the business an answer from ticket transactions covers, from the result's
    `coverage` note ("From ticket transactions, which cover 23 of 1,119 completed concerts
    ..."), as a sentence to follow the lead; else ''."""
    coverage = result.get("coverage") if isinstance(result, dict) else None
    note = coverage.get("note") if isinstance(coverage, dict) else None
    return f" {note.strip()}" if isinstance(note, str) and note.strip() else ""


def _generic(call: Call, _artist: str | None) -> str:
    table = table_of(call.result)
    if table is not None:
        withheld = _withheld(call.result)
        covered = _coverage(call.result)
        if not table["rows"]:
            return "No rows matched." + covered + withheld + _sql(call.result)
        lead = _lead(call, table) + covered
        return f"{lead}{withheld}\n\n{markdown(table)}{_sql(call.result)}"
    if isinstance(call.result, dict) and call.result.get("status") == "needs_confirmation":
        # a write held back (DESIGN 6): the tool's words, not its JSON; its note to the model
        # about confirm=true is for the caller that shows Confirm/Cancel or names the command
        what = held_back_action(str(call.result.get("message") or call.name))
        return (
            f"This changes data: {what}. Nothing has changed yet: it waits for your confirmation."
        )
    if isinstance(call.result, dict | list):
        return "```json\n" + json.dumps(call.result, indent=1, default=str)[:1500] + "\n```"
    return str(call.result)


def _health(call: Call, _artist: str | None) -> str:
    """The pipeline-health summary in a few lines, worst news first."""
    r = call.result if isinstance(call.result, dict) else {}
    lines = [f"**{r.get('message', 'Pipeline health')}** ({r.get('window', '')})"]
    if r.get("runs"):
        lines.append(
            f"- {fmt(r['runs'])} runs, {fmt(r.get('failed_runs', 0))} failed; "
            f"{fmt(r.get('records_in', 0))} records in, {fmt(r.get('accepted', 0))} accepted, "
            f"{fmt(r.get('quarantined', 0))} quarantined ({r.get('quarantine_rate', 0):.1%})."
        )
    lines += [f"- failed run {e}" for e in (r.get("recent_errors") or [])[:3]]
    failing = r.get("quality_failing") or []
    if failing:
        lines.append(f"- quality checks over threshold: {', '.join(failing[:6])}")
    elif r.get("quality_checks"):
        lines.append(f"- all {fmt(r['quality_checks'])} quality checks pass")
    alerts = r.get("open_alerts") or []
    if alerts:
        lines.append(f"- {len(alerts)} open alert{'s' * (len(alerts) != 1)}")
    lines.append("\nThe full dashboard: `encore dashboard`, or /dashboard in the chat UI.")
    return "\n".join(lines)


def _profile(call: Call, _artist: str | None) -> str:
    r = call.result if isinstance(call.result, dict) else {}
    a, s, g = r.get("artist") or {}, r.get("summary") or {}, r.get("genre_standing") or {}
    played = bool(s.get("concerts"))
    if played:
        text = (
            f"**{a.get('name')}** ({a.get('genre')}): {fmt(s.get('concerts'))} completed concerts, "
            f"{fmt(s.get('tickets_sold'))} tickets sold, "
            f"{fmt(s.get('gross_revenue'), 'gross')} gross, "
            f"average sell-through {fmt(s.get('avg_sell_through'), 'sell_through')}."
        )
    else:
        text = f"**{a.get('name')}** ({a.get('genre')}) has no completed concerts in our data yet."
    if g.get("artists_in_genre"):
        text += (
            f" Among {fmt(g['artists_in_genre'])} {g.get('genre')} artists they rank "
            f"#{g.get('popularity_rank')} by popularity"
            + (
                f" and #{g.get('tickets_rank')} by tickets sold."
                if played and g.get("tickets_rank")
                else "."
            )
        )
    upcoming = records(r.get("upcoming"))
    if upcoming and not played:
        first = upcoming[0]
        text += (
            f" {len(upcoming)}{'+' * (len(upcoming) >= 10)} upcoming concerts; the next: "
            f"{first.get('venue')}, {first.get('city')} on {first.get('event_date')}."
        )
    top = records(r.get("top_venues"))
    if played and top:
        best, venues = top[0], s.get("venues") or len(top)
        there = best.get("concerts") or 0
        text += (
            f" Most tickets at {best.get('venue')}, {best.get('city')}: "
            f"{fmt(best.get('tickets_sold'))} over {fmt(there)} concert{'s' * (there != 1)}"
            + (f" ({fmt(venues)} venues in all)." if venues > 1 else ".")
        )
    # the table shown is the one the tool's SQL returns (the concert history), all of it, so
    # "SQL used" is that table's query and reproduces it row for row
    history = table_of(r.get("history"))
    if not history or not history["rows"]:
        return text
    shown = len(history["rows"])
    total = s.get("concerts") or shown
    head = (
        "Completed concerts, latest first"
        if shown >= total
        else f"The latest {shown} of the {fmt(total)} completed concerts"
    )
    sql = f"\n\nSQL used (the concerts table):\n```sql\n{r['sql']}\n```" if r.get("sql") else ""
    return f"{text}\n\n{head}:\n{markdown(history, shown)}{sql}"


def _history(call: Call, artist: str | None) -> str:
    """An artist's completed concerts, latest first (concert_history's query)."""
    table = table_of(call.result)
    if table is None:
        return _generic(call, artist)
    if not table["rows"]:
        return f"{artist} has no completed concerts in our data yet." + _sql(call.result)
    latest = dict(zip(table["columns"], table["rows"][0], strict=False))
    count = len(table["rows"])
    return (
        f"{artist} has {fmt(count)} completed concert{'s' * (count != 1)}; the latest at "
        f"{latest.get('venue')}, {latest.get('city')} on {latest.get('event_date')}."
        f"\n\nCompleted concerts, latest first:\n{markdown(table, 20)}{_sql(call.result)}"
    )


def _genre_rank(call: Call, artist: str | None) -> str:
    rows = records(call.result)
    genre = next((f["value"] for f in call.input.get("filters", []) if f["field"] == "genre"), "")
    if not rows or "artist" not in rows[0] or artist is None:
        return _generic(call, artist)
    position = next(
        (i for i, r in enumerate(rows) if str(r["artist"]).lower() == artist.lower()), None
    )
    avg = sum(float(r.get("tickets_sold") or 0) for r in rows) / len(rows)
    if position is None:
        head = f"{artist} has no completed {genre} concerts in the data."
    else:
        mine = rows[position]
        head = (
            # of the artists with concerts: the profile's rank counts every artist of the genre
            f"{mine['artist']} ranks #{position + 1} of the {len(rows)} {genre} artists with "
            "concerts by tickets sold: "
            f"{fmt(mine.get('tickets_sold'))} tickets vs a {genre} average of {fmt(round(avg))}."
        )
    table = {"columns": list(rows[0]), "rows": [list(r.values()) for r in rows]}
    return head + "\n\n" + markdown(table, 5) + _sql(call.result)


def _query(call: Call, artist: str | None) -> str:
    if call.input.get("dimensions") == ["artist"] and any(
        f["field"] == "genre" for f in call.input.get("filters", [])
    ):
        return _genre_rank(call, artist)
    return _generic(call, artist)


def _ranked(call: Call, _artist: str | None) -> str:
    rows = records(call.result)
    if not rows:
        return "No matches for that." + _sql(call.result)
    first = rows[0]
    name = first.get("venue") or first.get("artist") or first.get("concert_id")
    cut = isinstance(call.result, dict) and bool(call.result.get("truncated"))
    lines: list[str] = []
    for r in rows[:10]:
        bits = [str(r.get(k)) for k in ("artist", "venue", "city", "event_date") if r.get(k)]
        # a recommendation's score ranks matches; it is no probability (it can pass 1)
        points = "match" if call.name == "recommend_concerts" else "score"
        score = f" ({points} {fmt(r['score'], points)})" if r.get("score") is not None else ""
        price = f", from {fmt(r['price_min'], 'price')}" if r.get("price_min") is not None else ""
        why = f" — {r['reason']}" if r.get("reason") else ""
        lines.append(f"{len(lines) + 1}. " + ", ".join(bits) + price + score + why)
    table = table_of(call.result)
    if first.get("event_date") and first.get("artist"):
        name = f"{first['artist']} at {first.get('venue')} on {first['event_date']}"
    return (
        _no_match(call, rows)
        + (f"{len(rows)} results; first: {name}." if len(rows) > 1 else f"One result: {name}.")
        + (" There are more: narrow the dates or places, or ask for more." if cut else "")
        + "\n\n"
        + "\n".join(lines)
        + (f"\n\n{markdown(table)}" if table and call.name.startswith("venue") else "")
        + _sql(call.result)
    )


def _no_match(call: Call, rows: list[dict[str, Any]]) -> str:
    """Say so when recommended concerts match none of the user's taste (every score is 0, or
    none is of a genre they named): the recommender then lists what else is on rather than
    nothing."""
    if call.name != "recommend_concerts":
        return ""
    liked = [str(g) for g in call.input.get("genres") or []]
    genres = {str(r["genre"]).lower() for r in rows if r.get("genre")}
    named_none = bool(liked and genres) and not genres & {g.lower() for g in liked}
    if not named_none and any((r.get("score") or 0) > 0 for r in rows):
        return ""
    what = " or ".join(liked) if liked else "your taste"
    when = " in those dates" if call.input.get("date_from") or call.input.get("date_to") else ""
    return f"Nothing matching {what} is on{when}; these are other concerts, not matches.\n\n"


def _prediction(item: dict[str, Any]) -> str:
    flag = " ⚠️ low confidence" if item.get("low_confidence") else ""
    sell = "likely to sell out" if item.get("likely_sell_out") else "not expected to sell out"
    why = "; ".join(item.get("explanation") or [])
    return (
        f"{item.get('artist')} at {item.get('venue')} "
        f"on {item.get('date') or item.get('event_date')}: "
        f"{fmt(item.get('tickets_sold'))} tickets ({fmt(item.get('tickets_low'))}–"
        f"{fmt(item.get('tickets_high'))}), {fmt(item.get('gross'), 'gross')} gross, "
        f"sell-through {fmt(item.get('sell_through'), 'sell_through')}, {sell}; "
        f"confidence {fmt(item.get('confidence'), 'confidence')}{flag}."
        + (f" Why: {why}." if why else "")
    )


def _predict(call: Call, _artist: str | None) -> str:
    items = records(call.result) or ([call.result] if isinstance(call.result, dict) else [])
    if not items:
        return "No predictions came back."
    likely = [i for i in items if i.get("likely_sell_out")]
    head = (
        f"{len(likely)} of {len(items)} concerts are likely to sell out." if len(items) > 1 else ""
    )
    return "\n".join([head, *("- " + _prediction(i) for i in items[:10])]).strip()


def _low_confidence(call: Call) -> str:
    """Only the forecasts the model is unsure of (the concert list they came from is implied)."""
    if call.name == "upcoming_concerts":
        return "" if records(call.result) else "No concerts are scheduled then."
    items = records(call.result)
    unsure = [i for i in items if i.get("low_confidence")]
    if not unsure:
        return f"None of the {len(items)} concerts' forecasts is low-confidence."
    head = (
        f"{len(unsure)} of {len(items)} concerts have low-confidence forecasts "
        "(take their numbers as rough):"
    )
    return "\n".join([head, *("- " + _prediction(i) for i in unsure[:15])]) + (
        f"\n…and {len(unsure) - 15} more." if len(unsure) > 15 else ""
    )


_CUT_SAID: Final = re.compile(r"\bpart of the data\b|\brow cap\b|\bpartial data\b", re.I)


def _analysis(call: Call, _artist: str | None, *, partial: bool = True) -> str:
    """A sandbox analysis: what it printed, its first table, and what a correlation means; and,
    unless `partial` is False (the answer said so already), that the row cap cut its extract."""
    r = call.result if isinstance(call.result, dict) else {}
    if r.get("error"):
        return f"The analysis failed: {r['error']}"
    parts = [str(r.get("stdout") or "").strip()]
    tables = r.get("tables") or []
    rows = records(tables[0]) if tables else []
    pearson = next((x for x in rows if x.get("method") == "pearson"), None)
    if pearson is not None and _is_number(pearson.get("correlation")):
        value = float(pearson["correlation"])
        strength = (
            "practically no"
            if abs(value) < 0.1
            else "a weak"
            if abs(value) < 0.3
            else "a moderate"
            if abs(value) < 0.5
            else "a strong"
        )
        x, y = (call.input.get("params") or {}).get("x"), (call.input.get("params") or {}).get("y")
        direction = "" if abs(value) < 0.1 else (" positive" if value > 0 else " negative")
        parts.insert(
            0,
            f"Correlation of {str(x).replace('_', ' ')} with {str(y).replace('_', ' ')}: "
            f"r = {value:.2f}, {strength}{direction} linear relationship.",
        )
    if tables and table_of(tables[0]):
        parts.append(markdown(tables[0]))
    cut = partial_extract(r) if partial else ""
    if cut:
        parts.insert(1 if pearson is not None else 0, cut)
    return "\n\n".join(p for p in parts if p)


def partial_extract(result: Any) -> str:
    """What an analysis whose extract the role's row cap cut covers (its `truncated` and
    `note`: "the extract was cut at 5,000 rows, …"), as a sentence; else ''."""
    if not isinstance(result, dict) or not result.get("truncated"):
        return ""
    note = str(result.get("note") or "").strip().rstrip(".")
    if not note:
        cap = result.get("row_cap") or result.get("rows_read")
        note = f"the extract was cut at {fmt(cap)} rows, the role's row cap" if cap else ""
    note = note or "the extract was cut by the role's row cap"
    return f"Partial data: {note}."


def _chart(call: Call, _artist: str | None) -> str:
    title = call.result.get("title") if isinstance(call.result, dict) else None
    return f"Here is a {call.input.get('kind', 'bar')} chart: {title or call.input.get('title')}."


def _lookup(call: Call, _artist: str | None) -> str:
    r = call.result if isinstance(call.result, dict) else {}
    source = call.input.get("source", "the source")
    if not r.get("reachable", True) and not r.get("items"):
        why = r.get("message") or "no answer"
        return f"{source.title()} can't be reached right now ({why}), so I'll use our own data."
    items = r.get("items") or []
    lines = [
        f"From {source.title()} ({len(items)} items, {'cached' if r.get('from_cache') else 'live'};"
        " external data, shown as data only):"
    ]
    for item in items[:5]:
        fields = ", ".join(
            f"{k}: {fmt(v, k)}"
            for k, v in item.items()
            if isinstance(v, str | int | float) and len(str(v)) < 80
        )
        lines.append(f"- {fields}")
    if r.get("message"):
        lines.append(f"Note: {r['message']}")
    return "\n".join(lines)


def _memory(call: Call, _artist: str | None) -> str:
    if call.name == "remember_preference":
        return f"Noted: your {call.input.get('kind')} preference is {call.input.get('value')}."
    if call.name == "forget_memory":
        return f"Done — I forgot {call.input.get('what') or 'what I knew about you'}."
    r = call.result
    prefs = r.get("preferences", r) if isinstance(r, dict) else r
    if not prefs or (isinstance(r, dict) and r.get("empty")):
        return "I don't have any preferences saved for you yet."
    if isinstance(prefs, dict):
        return "Here is what I remember about you:\n" + "\n".join(
            f"- {k}: {', '.join(map(str, v)) if isinstance(v, list) else fmt(v, k)}"
            for k, v in prefs.items()
            if v
        )
    return f"Here is what I remember about you: {prefs}"


_WRITERS = {
    "pipeline_health": _health,
    "artist_profile": _profile,
    "semantic_query": _query,
    "run_sql": _generic,
    "venue_ranking": _ranked,
    "venues_for_artist": _ranked,
    "recommend_concerts": _ranked,
    "upcoming_concerts": _ranked,
    "predict_ticket_sales": _predict,
    "predict_concerts": _predict,
    "make_chart": _chart,
    "lookup_source": _lookup,
    "recall_memory": _memory,
    "remember_preference": _memory,
    "forget_memory": _memory,
}
