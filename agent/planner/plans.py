"""Plans: the tool calls that answer an intent, given its entities and the dialogue state.

A plan is a list of steps; each step sees the calls made so far in the turn and returns the next
call or None (skip). Replaying the same plan over the same results gives the same calls, so the
model can continue a plan from the conversation alone. This module holds the plan and the helpers
every kind of step is built with; the steps of each kind of question live beside it (questions,
regroup, venues, lookups, analysis, partner).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from agent.planner.entities import Entities
from agent.planner.state import Call, DialogueState, records, table_of

Step = Callable[[list[Call]], "Call | None"]


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


def fixed_call(name: str, **args: Any) -> Step:
    """A step that always makes this call, without its empty arguments."""
    clean = {k: v for k, v in args.items() if v not in (None, [], "")}
    return lambda _done: Call(name, clean)


def entity_filters(ents: Entities, skip: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Semantic-query filters for the artists, venues, places and genres a message names."""
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


def time_range_of(ents: Entities) -> dict[str, str | None] | None:
    """The semantic-query time range of the dates a message names, if any."""
    return ents.dates.as_time_range() if ents.dates else None


def query_step(
    measures: list[str],
    dims: list[str],
    ents: Entities,
    *,
    limit: int = 20,
    skip: tuple[str, ...] = (),
    time_range: dict[str, str | None] | None = None,
) -> Step:
    """A semantic query of `measures` by `dims`, filtered and dated as the message says."""
    filters = entity_filters(ents, skip)
    if not dims:  # "stadiums vs arenas": one row for each of the values named, not one blend
        dims = [f["field"] for f in filters if f["op"] == "in"][:1]
    return fixed_call(
        "semantic_query",
        measures=measures,
        dimensions=dims,
        filters=filters,
        time_range=time_range or time_range_of(ents),
        order_by=[{"field": measures[0], "descending": True}] if dims else [],
        limit=ents.limit or limit,
    )


def chart_after(kind: str) -> Step:
    """A chart of the last call's table, when it has rows."""

    def step(done: list[Call]) -> Call | None:
        table = table_of(done[-1].result) if done else None
        if table is None or not table["rows"]:
            return None
        return Call("make_chart", chart_args(kind, table))

    return step


TIME_DIMENSIONS = ("year", "quarter", "month", "week", "weekday")
_POSITION = re.compile(r"^(rank|position|row_number|id)$|_id$|_rank$", re.I)


def chart_args(kind: str, table: dict[str, Any]) -> dict[str, Any]:
    """make_chart's arguments for a table: which columns go across, up and (heatmap) as colour."""
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
        across = next((c for c in labels if c in TIME_DIMENSIONS), labels[1])
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


def top_limit(text: str) -> int | None:
    """ "top 5": the row limit a message names after "top", if any."""
    m = re.search(r"\btop\s+(\d{1,3})\b", text.lower())
    return int(m.group(1)) if m else None


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


def sql_literal(value: str) -> str:
    """A SQL string literal, its quotes escaped."""
    return "'" + value.replace("'", "''") + "'"
