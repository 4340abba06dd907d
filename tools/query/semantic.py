"""Semantic queries: measures by dimensions, compiled to SQL with sqlglot and run through the guard.

Each fact (a grain) is aggregated in its own CTE, grouped by the requested dimensions, before the
CTEs are joined on those dimensions; so a concert's capacity or gross is never repeated once per
ticket sale. User values enter the SQL only as sqlglot literals, never as text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Final, Literal

from sqlglot import exp

from core.entities import match_name
from core.errors import ValidationError
from tools.context import ToolContext
from tools.query.catalog import vocabulary
from tools.query.guard import withheld_note
from tools.query.policy import load_policy
from tools.query.router import RoutedResult
from tools.query.runner import guarded_query
from tools.query.semantic_model import (
    Coverage,
    Dimension,
    Fact,
    Filter,
    OrderBy,
    SemanticModel,
    SemanticQuery,
    TimeRange,
    load_model,
    references,
)

Dialect = Literal["duckdb", "postgres", "redshift"]

_EVENT_DATE = exp.column("event_date", table="e")
_FUZZY_CUTOFF: Final = 90.0
"""Stricter than for tools that echo the name: a filter resolved wrongly changes totals silently."""


def _value(dimension: Dimension, value: Any) -> exp.Expr:
    """A user value as a typed SQL literal for comparing with the dimension."""
    try:
        if dimension.type == "integer":
            return exp.Literal.number(int(value))
        if dimension.type == "date":
            day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
            return exp.cast(exp.Literal.string(day.isoformat()), "DATE")
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"filter on {dimension.name} needs a {dimension.type} value; got {value!r}",
            field=dimension.name,
        ) from exc
    return exp.Literal.string(str(value).lower())


def _condition(target: exp.Expr, op: str, values: Sequence[exp.Expr]) -> exp.Expr:
    if op in ("in", "not in"):
        condition: exp.Expr = exp.In(this=target, expressions=values)
        return exp.Not(this=condition) if op == "not in" else condition
    if op == "contains":
        return exp.GT(
            this=exp.StrPosition(this=target, substr=values[0]), expression=exp.Literal.number(0)
        )
    cls = {"=": exp.EQ, "!=": exp.NEQ, "<": exp.LT, "<=": exp.LTE, ">": exp.GT, ">=": exp.GTE}[op]
    return cls(this=target, expression=values[0])


def _listed(flt: Filter) -> list[Any]:
    if flt.op in ("in", "not in"):
        if not isinstance(flt.value, list | tuple) or not flt.value:
            raise ValidationError(f"filter {flt.field} {flt.op} needs a non-empty list of values")
        return list(flt.value)
    if isinstance(flt.value, list | tuple):
        raise ValidationError(f"filter {flt.field} {flt.op} needs one value, not a list")
    return [flt.value]


def _dimension_condition(dimension: Dimension, flt: Filter) -> exp.Expr:
    values = [_value(dimension, v) for v in _listed(flt)]
    target = dimension.sql.copy()
    if dimension.type == "string":
        target = exp.Lower(this=target)  # values are lowered too: names match case-insensitively
    elif flt.op == "contains":
        raise ValidationError(f"'contains' works on text dimensions; {flt.field} is not text")
    return _condition(target, flt.op, values)


def _measure_condition(target: exp.Expr, flt: Filter) -> exp.Expr:
    if flt.op == "contains":
        raise ValidationError(f"'contains' works on text dimensions; {flt.field} is a measure")
    values: list[exp.Expr] = []
    for v in _listed(flt):
        if isinstance(v, bool) or not isinstance(v, int | float):
            try:
                v = float(v)
            except (TypeError, ValueError) as exc:
                raise ValidationError(f"filter on {flt.field} needs a number; got {v!r}") from exc
        values.append(exp.Literal.number(v))
    return _condition(target, flt.op, values)


def _time_conditions(time_range: TimeRange | None) -> list[exp.Expr]:
    if time_range is None:
        return []
    out: list[exp.Expr] = []
    if time_range.start:
        start = exp.cast(exp.Literal.string(time_range.start.isoformat()), "DATE")
        out.append(exp.GTE(this=_EVENT_DATE.copy(), expression=start))
    if time_range.end:
        end = exp.cast(exp.Literal.string(time_range.end.isoformat()), "DATE")
        out.append(exp.LTE(this=_EVENT_DATE.copy(), expression=end))
    return out


def _choose_fact(model: SemanticModel, measure: str, needed: frozenset[str],
                 fields: dict[str, frozenset[str]]) -> Fact:  # fmt: skip
    options = model.measure(measure).sql
    for name in options:
        if needed <= model.facts[name].aliases:
            return model.facts[name]
    # name the fields no fact of this measure can serve, so the caller knows what to drop
    best = max(options, key=lambda n: len(needed & model.facts[n].aliases))
    missing = sorted(f for f, a in fields.items() if not a <= model.facts[best].aliases)
    raise ValidationError(
        f"{measure} cannot be split or filtered by {', '.join(missing)}: {measure} is measured "
        f"per {'concert' if best == 'performance' else 'ticket sale'} and "
        f"{', '.join(missing)} exist{'s' if len(missing) == 1 else ''} only at another grain; "
        "drop one of them or ask in two queries",
        measure=measure,
        fields=missing,
    )


def _joins(fact: Fact, aliases: frozenset[str]) -> list[str]:
    """The joins the aliases need, dependencies first."""
    ordered: list[str] = []

    def add(alias: str) -> None:
        if alias == fact.alias or alias in ordered:
            return
        for dependency in fact.joins[alias].needs:
            add(dependency)
        ordered.append(alias)

    for alias in sorted(aliases):
        add(alias)
    return ordered


def _fact_cte(fact: Fact, query: SemanticQuery, model: SemanticModel, measures: list[str],
              where: list[exp.Expr]) -> exp.Select:  # fmt: skip
    dims = [model.dimension(d) for d in query.dimensions]
    status_named = "status" in query.dimensions or any(f.field == "status" for f in query.filters)
    aggregates = {m: model.measure(m).sql_for(fact.name, status_named) for m in measures}
    parts = [d.sql for d in dims] + list(aggregates.values()) + where
    aliases = frozenset().union(*(references(p) for p in parts))
    select = exp.select(
        *(exp.alias_(d.sql.copy(), d.name) for d in dims),
        *(exp.alias_(aggregates[m].copy(), m) for m in measures),
    ).from_(exp.table_(fact.table, alias=fact.alias), copy=False)
    for alias in _joins(fact, aliases):
        join = fact.joins[alias]
        select = select.join(
            exp.table_(join.table, alias=alias),
            on=join.on.copy(),
            join_type="left" if join.kind == "left" else None,
            copy=False,
        )
    for condition in where:
        select = select.where(condition.copy(), copy=False)
    if dims:
        select = select.group_by(*(d.sql.copy() for d in dims), copy=False)
    return select


def _by_fact(query: SemanticQuery, model: SemanticModel) -> dict[str, list[str]]:
    """The fact each measure (requested or filtered on) is computed from: fact -> measures."""
    fields = {name: model.dimension(name).aliases for name in query.dimensions}
    for flt in query.filters:
        if flt.field not in model.measures:
            fields[flt.field] = model.dimension(flt.field).aliases
    if query.time_range:
        fields["time_range"] = frozenset({"e"})
    needed = frozenset().union(*fields.values())
    measure_filters = [f.field for f in query.filters if f.field in model.measures]
    by_fact: dict[str, list[str]] = {}
    for name in dict.fromkeys([*query.measures, *measure_filters]):
        by_fact.setdefault(_choose_fact(model, name, needed, fields).name, []).append(name)
    return by_fact


def measures_by_fact(
    query: SemanticQuery, model: SemanticModel | None = None
) -> dict[str, list[str]]:
    """The facts (performance, sales) a semantic query reads, each with its measures."""
    return _by_fact(query, model or load_model())


def compile_semantic(
    query: SemanticQuery, dialect: Dialect = "duckdb", model: SemanticModel | None = None
) -> str:
    """The SQL of a semantic query in the given dialect (duckdb, postgres or redshift)."""
    model = model or load_model()
    if not query.measures:
        raise ValidationError(f"pick at least one measure: {', '.join(model.measures)}")
    for name in query.measures:
        model.measure(name)
    dims = {name: model.dimension(name) for name in dict.fromkeys(query.dimensions)}
    dim_filters = [f for f in query.filters if f.field not in model.measures]
    measure_filters = [f for f in query.filters if f.field in model.measures]
    where = [_dimension_condition(model.dimension(f.field), f) for f in dim_filters]
    where += _time_conditions(query.time_range)

    by_fact = _by_fact(query, model)

    facts = list(by_fact)
    outer = exp.select()
    for fact_name in facts:
        cte = _fact_cte(model.facts[fact_name], query, model, by_fact[fact_name], where)
        outer = outer.with_(fact_name, as_=cte, copy=False)
    measure_out: dict[str, exp.Expr] = {
        m: exp.column(m, table=f) for f, ms in by_fact.items() for m in ms
    }
    # several facts: the dimension keys of all of them, each fact's aggregates left-joined on
    # (PostgreSQL runs FULL JOIN only on hash/merge-joinable conditions, not IS NOT DISTINCT FROM)
    base = facts[0]
    if len(facts) > 1 and dims:
        base = "dimension_keys"
        keys_cte: exp.Query = exp.select(*dims).from_(facts[0])
        for fact_name in facts[1:]:
            keys_cte = keys_cte.union(exp.select(*dims).from_(fact_name), distinct=True)
        outer = outer.with_(base, as_=keys_cte, copy=False)
    dim_out: dict[str, exp.Expr] = {name: exp.column(name, table=base) for name in dims}
    outer = outer.select(
        *(exp.alias_(dim_out[d].copy(), d) for d in dims),
        *(exp.alias_(measure_out[m].copy(), m) for m in query.measures),
    ).from_(exp.table_(base), copy=False)
    for fact_name in facts:
        if fact_name == base:
            continue
        if not dims:
            outer = outer.join(exp.table_(fact_name), join_type="cross", copy=False)
            continue
        on = exp.and_(*(
            exp.NullSafeEQ(
                this=exp.column(d, table=base), expression=exp.column(d, table=fact_name)
            )
            for d in dims
        ))  # fmt: skip
        outer = outer.join(exp.table_(fact_name), on=on, join_type="left", copy=False)
    for flt in measure_filters:
        outer = outer.where(_measure_condition(measure_out[flt.field].copy(), flt), copy=False)
    keys = _order(query, dims, measure_out, dim_out)
    if keys:
        outer = outer.order_by(*keys, copy=False)
    outer = outer.limit(query.limit, copy=False)
    return outer.sql(dialect=dialect)


def _order(query: SemanticQuery, dims: dict[str, Dimension], measure_out: dict[str, exp.Expr],
           dim_out: dict[str, exp.Expr]) -> list[exp.Ordered]:  # fmt: skip
    outputs = {**dim_out, **{m: measure_out[m] for m in query.measures}}
    order = list(query.order_by)
    if not order and dims and query.measures:
        order = [OrderBy(field=query.measures[0], descending=True)]
    keys: list[exp.Ordered] = []
    seen = set()
    for item in order:
        if item.field not in outputs:
            raise ValidationError(
                f"cannot order by {item.field!r}: order by one of the requested fields "
                f"({', '.join(outputs)})"
            )
        keys.append(exp.Ordered(this=outputs[item.field].copy(), desc=item.descending,
                                nulls_first=False))  # fmt: skip
        seen.add(item.field)
    # a stable order whatever the engine: ties broken by the dimensions
    keys += [exp.Ordered(this=dim_out[d].copy(), desc=False, nulls_first=False)
             for d in dims if d not in seen]  # fmt: skip
    return keys


def _resolve_name(ctx: ToolContext, kind: str, field: str, value: Any) -> str:
    names = vocabulary(ctx, kind).names  # type: ignore[arg-type]
    return names[match_name(field, str(value), names, cutoff=_FUZZY_CUTOFF)]


def _resolve_filters(ctx: ToolContext, query: SemanticQuery, model: SemanticModel) -> SemanticQuery:
    """Filters on names (artist, venue, city, ...) with typos resolved to the warehouse's names."""
    filters = []
    for flt in query.filters:
        dimension = model.dimensions.get(flt.field)
        if dimension and dimension.vocabulary and flt.op in ("=", "!=", "in", "not in"):
            kind = dimension.vocabulary
            if isinstance(flt.value, list | tuple):
                value: Any = [_resolve_name(ctx, kind, flt.field, v) for v in flt.value]
            else:
                value = _resolve_name(ctx, kind, flt.field, flt.value)
            flt = flt.model_copy(update={"value": value})
        filters.append(flt)
    return query.model_copy(update={"filters": filters})


class SemanticResult(RoutedResult):
    """A semantic query's answer; `coverage` when it read ticket transactions, which cover
    only part of its concerts."""

    coverage: Coverage | None = None


def semantic_query(
    ctx: ToolContext,
    *,
    measures: list[str],
    dimensions: list[str] | None = None,
    filters: list[Filter] | None = None,
    time_range: TimeRange | None = None,
    order_by: list[OrderBy] | None = None,
    limit: int = 100,
) -> SemanticResult:
    """Answer "measures by dimensions" questions without writing SQL; the SQL comes back too.

    Measures: tickets_sold, gross_revenue, concerts, avg_ticket_price, sell_through, capacity,
    sell_outs, fans, transactions, artists, venues. `concerts` and `capacity` count completed
    concerts unless the query filters or splits by status; `sell_through` is always the average
    over completed concerts of each concert's tickets sold / capacity. Dimensions: artist,
    genre, artist_country, venue, venue_type, city, state, country, year, quarter, month, week,
    weekday, event_date, status, channel, price_tier, age_band. Filters compare a dimension
    (names are matched case-insensitively, small typos corrected) or a measure (applied after
    aggregating); time_range limits event dates (inclusive). Example: measures=["tickets_sold"],
    dimensions=["genre"], filters=[{"field": "state", "op": "=", "value": "CA"}]. Channel,
    price_tier, age_band, fans and transactions come from ticket transactions, which exist for
    only some concerts: `coverage.note` then says how many; show it with the answer.
    """
    model = load_model()
    query = SemanticQuery(
        measures=measures,
        dimensions=dimensions or [],
        filters=filters or [],
        time_range=time_range,
        order_by=order_by or [],
        limit=limit,
    )
    from tools.query.semantic_coverage import transaction_coverage

    query = _resolve_filters(ctx, query, model)
    sql = compile_semantic(query, "duckdb", model)
    result = guarded_query(ctx, sql, kind="semantic", max_rows=limit, aggregated=True)
    reason = "semantic measures are defined on the warehouse"
    if note := withheld_note(load_policy().role(ctx.role), result.sql):
        reason = f"{reason}; {note}"
    return SemanticResult.model_construct(
        **dict(result), engine="warehouse", reason=reason,
        coverage=transaction_coverage(ctx, query, model),
    )  # fmt: skip
