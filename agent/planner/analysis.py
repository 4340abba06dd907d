"""Two per-concert measures set against each other: their correlation (a sandbox analysis)
or a scatter of them."""

from __future__ import annotations

import re

from agent.planner.entities import Entities
from agent.planner.plans import Step, chart_args, fixed_call, sql_literal
from agent.planner.state import Call, table_of
from tools.interpreter.templates import binned_pairs_sql

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
            where.append(f"{column} IN ({', '.join(map(sql_literal, values))})")
    if ents.genres:
        where.append(f"a.genre IN ({', '.join(map(sql_literal, ents.genres))})")
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
    return fixed_call(
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
        args = chart_args("scatter", table)
        args.update(x=x, y=y, title=f"{y.replace('_', ' ')} vs {x.replace('_', ' ')} per concert")
        return Call("make_chart", args)

    return [fixed_call("run_sql", sql=_concert_rows(pair, ents)), chart]
