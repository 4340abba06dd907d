"""The fallback for a role that may not link sales to their buyers (partner): ask again
without the buyers' columns, or count the fans themselves, and say what was left out."""

from __future__ import annotations

import re
from typing import Any

from agent.planner.plans import Plan, Step
from agent.planner.state import Call

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
