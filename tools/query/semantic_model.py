"""The semantic layer's vocabulary: facts, measures and dimensions (semantic.yaml), and queries."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Literal

import sqlglot
import yaml
from pydantic import BaseModel, Field
from rapidfuzz import process
from sqlglot import exp

from core.errors import ConfigError, ValidationError

FilterOp = Literal["=", "!=", "<", "<=", ">", ">=", "in", "not in", "contains"]
DimensionType = Literal["string", "integer", "date"]


class Filter(BaseModel):
    """A condition on a dimension (rows before aggregating) or a measure (groups after)."""

    field: str
    op: FilterOp = "="
    value: Any = Field(description="a value; a list for 'in' and 'not in'; ISO text for dates")


class TimeRange(BaseModel):
    """Event dates from `start` to `end`, both inclusive; either end may be open."""

    start: dt.date | None = None
    end: dt.date | None = None


class OrderBy(BaseModel):
    """Sort by a requested measure or dimension."""

    field: str
    descending: bool = True


class SemanticQuery(BaseModel):
    """Measures split by dimensions, filtered, sorted and limited."""

    measures: list[str]
    dimensions: list[str] = Field(default_factory=list)
    filters: list[Filter] = Field(default_factory=list)
    time_range: TimeRange | None = None
    order_by: list[OrderBy] = Field(default_factory=list)
    limit: int = Field(100, ge=1, le=10_000)


class Coverage(BaseModel):
    """How much of the answer's scope the ticket transactions it read cover."""

    concerts_covered: int = Field(description="concerts in scope with ticket transactions")
    concerts: int = Field(description="concerts in scope (completed unless status is filtered)")
    tickets_covered: int = Field(description="tickets sold in those transactions")
    tickets: int = Field(description="tickets sold in scope, from transactions or box scores")
    sql: str = Field(description="the coverage query that ran")
    note: str = Field(description="the coverage in one sentence, to show with the answer")


@dataclass(frozen=True)
class Join:
    table: str
    on: exp.Expr
    kind: Literal["inner", "left"] = "inner"
    needs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Fact:
    """A grain: its table, alias and the joins its dimensions may need."""

    name: str
    description: str
    table: str
    alias: str
    joins: dict[str, Join]

    @property
    def aliases(self) -> frozenset[str]:
        return frozenset({self.alias, *self.joins})


@dataclass(frozen=True)
class Measure:
    name: str
    description: str
    format: str
    sql: dict[str, exp.Expr]  # fact name -> aggregate, preferred fact first
    by_status: dict[str, exp.Expr] = field(default_factory=dict)
    """fact name -> the aggregate when the query filters or splits by status (every status)"""

    def sql_for(self, fact: str, status_named: bool) -> exp.Expr:
        """The aggregate on a fact; `status_named` when the query names the concerts' status."""
        if status_named and fact in self.by_status:
            return self.by_status[fact]
        return self.sql[fact]


@dataclass(frozen=True)
class Dimension:
    name: str
    description: str
    type: DimensionType
    sql: exp.Expr
    vocabulary: str | None = None

    @property
    def aliases(self) -> frozenset[str]:
        return references(self.sql)


@dataclass(frozen=True)
class SemanticModel:
    facts: dict[str, Fact]
    measures: dict[str, Measure]
    dimensions: dict[str, Dimension] = field(default_factory=dict)

    def measure(self, name: str) -> Measure:
        return self.measures.get(name) or _unknown("measure", name, self.measures)

    def dimension(self, name: str) -> Dimension:
        return self.dimensions.get(name) or _unknown("dimension", name, self.dimensions)


def references(expression: exp.Expr) -> frozenset[str]:
    """The table aliases an expression reads."""
    return frozenset(c.table for c in expression.find_all(exp.Column) if c.table)


def _unknown(kind: str, name: str, known: dict[str, Any]) -> Any:
    close = [m for m, score, _ in process.extract(name, list(known), limit=3) if score >= 60]
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    raise ValidationError(
        f"unknown {kind} {name!r}.{hint} Valid {kind}s: {', '.join(known)}",
        field=kind,
        value=name,
        suggestions=close,
    )


def _sql(text: str, where: str) -> exp.Expr:
    try:
        return sqlglot.parse_one(str(text), read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise ConfigError(f"semantic.yaml, {where}: {exc}") from exc


def parse_model(data: dict[str, Any]) -> SemanticModel:
    """A SemanticModel from the YAML document's data, checked for consistency."""
    facts = {}
    for name, spec in data["facts"].items():
        joins = {
            alias: Join(
                table=j["table"],
                on=_sql(j["condition"], f"fact {name}, join {alias}"),
                kind=j.get("kind", "inner"),
                needs=tuple(j.get("needs", ())),
            )
            for alias, j in (spec.get("joins") or {}).items()
        }
        facts[name] = Fact(
            name, str(spec.get("description", "")), spec["table"], spec["alias"], joins
        )
    measures = {}
    for name, spec in data["measures"].items():
        sql = {f: _sql(s, f"measure {name}") for f, s in spec["sql"].items()}
        by_status = {
            f: _sql(s, f"measure {name}") for f, s in (spec.get("by_status") or {}).items()
        }
        for fact, expression in [*sql.items(), *by_status.items()]:
            known = fact in sql and fact in facts
            if not known or not references(expression) <= facts[fact].aliases:
                raise ConfigError(f"semantic.yaml: measure {name} refers to an unknown fact/alias")
        measures[name] = Measure(name, " ".join(str(spec.get("description", "")).split()),
                                 str(spec.get("format", "number")), sql, by_status)  # fmt: skip
    dimensions = {
        name: Dimension(
            name=name,
            description=str(spec.get("description", "")),
            type=spec.get("type", "string"),
            sql=_sql(spec["sql"], f"dimension {name}"),
            vocabulary=spec.get("vocabulary"),
        )
        for name, spec in data["dimensions"].items()
    }
    return SemanticModel(facts=facts, measures=measures, dimensions=dimensions)


@cache
def load_model() -> SemanticModel:
    """The semantic model shipped beside this module (semantic.yaml)."""
    text = resources.files("tools.query").joinpath("semantic.yaml").read_text(encoding="utf-8")
    return parse_model(yaml.safe_load(text))
