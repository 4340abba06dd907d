"""How much of the business a semantic answer read from ticket transactions covers.

Channel, price tier, buyers and per-transaction measures exist only in `ticket_sales`, which
holds transactions for some concerts; `concert_performance` has every concert's results (from
transactions or box scores). An answer from transactions says what share it covers: completed
concerts with transactions of all completed concerts, and their tickets of all tickets sold, for
the answer's concert-level filters and time range. One aggregate query, run through the guard as
the caller's role, so a partner's coverage counts only the transactions the partner may read.
"""

from __future__ import annotations

import logging
from typing import Final

from sqlglot import exp

from core.errors import EncoreError
from tools.context import ToolContext
from tools.query.policy import load_policy
from tools.query.runner import guarded_query
from tools.query.semantic import (
    _dimension_condition,
    _fact_cte,
    _time_conditions,
    measures_by_fact,
)
from tools.query.semantic_model import Coverage, SemanticModel, SemanticQuery

log = logging.getLogger(__name__)

_SALES: Final = "sales"
_PERFORMANCE: Final = "performance"
_MEASURES: Final = ["concerts", "tickets_sold"]


def coverage_sql(query: SemanticQuery, model: SemanticModel) -> str:
    """The coverage query: concerts and tickets in transactions and in all results, for the
    query's filters on concerts, artists, venues and dates (sales-only filters such as channel
    narrow the answer, not the concerts it can draw on) and its time range."""
    performance = model.facts[_PERFORMANCE]
    filters = [
        f
        for f in query.filters
        if f.field not in model.measures and model.dimension(f.field).aliases <= performance.aliases
    ]
    scope = SemanticQuery(measures=_MEASURES, filters=filters, time_range=query.time_range)
    where = [_dimension_condition(model.dimension(f.field), f) for f in filters]
    where += _time_conditions(query.time_range)
    covered = _fact_cte(model.facts[_SALES], scope, model, _MEASURES, where)
    everything = _fact_cte(performance, scope, model, _MEASURES, where)
    return (
        exp.select(
            exp.alias_(exp.column("concerts", table=_SALES), "covered_concerts"),
            exp.alias_(exp.column("tickets_sold", table=_SALES), "covered_tickets"),
            exp.alias_(exp.column("concerts", table=_PERFORMANCE), "concerts"),
            exp.alias_(exp.column("tickets_sold", table=_PERFORMANCE), "tickets"),
        )
        .with_(_SALES, as_=covered)
        .with_(_PERFORMANCE, as_=everything)
        .from_(_SALES)
        .join(_PERFORMANCE, join_type="cross")
        .sql(dialect="duckdb")
    )


def _count(value: int) -> str:
    """3,608,515 as 3.6M; smaller counts in full (32,473)."""
    return f"{value / 1e6:.1f}M" if value >= 1e6 else f"{value:,}"


def _subject(measures: list[str]) -> str:
    """'Fans come', 'Gross revenue comes': what an answer drawing on both facts took from
    transactions."""
    names = [m.replace("_", " ") for m in measures]
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    plural = len(names) > 1 or names[0].endswith("s")
    return f"{listed[:1].upper()}{listed[1:]} come{'' if plural else 's'} from"


def _note(
    ctx: ToolContext, counts: tuple[int, ...], status_named: bool, measures: list[str]
) -> str:
    covered_concerts, covered_tickets, concerts, tickets = counts
    grant = load_policy().role(ctx.role).grant("ticket_sales")
    source = (
        f"the ticket transactions role {ctx.role} may read"
        if grant is not None and grant.row_filter
        else "ticket transactions"
    )
    kind = "concerts" if status_named else "completed concerts"
    lead = _subject(measures) if measures else "From"
    return (
        f"{lead} {source}, which cover {covered_concerts:,} of {concerts:,} {kind} "
        f"({_count(covered_tickets)} of {_count(tickets)} tickets)."
    )


def transaction_coverage(
    ctx: ToolContext, query: SemanticQuery, model: SemanticModel
) -> Coverage | None:
    """The coverage of an answer that reads ticket transactions, when they cover only part of
    its scope; None when it reads none, they cover all of it, or the role's guard withholds it."""
    by_fact = measures_by_fact(query, model)
    if _SALES not in by_fact:
        return None
    sql = coverage_sql(query, model)
    try:
        result = guarded_query(ctx, sql, kind="semantic-coverage", max_rows=1, aggregated=True)
    except EncoreError as exc:  # the answer stands without its coverage; the audit has why
        log.warning("coverage query failed for %s/%s: %s", ctx.user, ctx.role, exc.message)
        return None
    if not result.rows:  # a partner's transactions in scope are fewer than the group minimum
        return None
    counts = tuple(int(v or 0) for v in result.rows[0])
    covered_concerts, covered_tickets, concerts, tickets = counts
    if covered_concerts >= concerts and covered_tickets >= tickets:
        return None
    status_named = any(f.field == "status" for f in query.filters)
    # beside measures of every concert's results, the sentence names those from transactions
    mixed = [m for m in query.measures if m in by_fact[_SALES]] if len(by_fact) > 1 else []
    return Coverage.model_construct(
        concerts_covered=covered_concerts,
        concerts=concerts,
        tickets_covered=covered_tickets,
        tickets=tickets,
        sql=result.sql,
        note=_note(ctx, counts, status_named, mixed),
    )
