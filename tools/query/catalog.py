"""What a caller may ask about: the schema its role sees, the semantic catalog, entity names."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from core.errors import ValidationError
from core.warehouse import reading
from tools.context import ToolContext
from tools.query.policy import load_policy
from tools.query.runner import warehouse_schema
from tools.query.semantic_model import load_model

VocabularyKind = Literal["artists", "venues", "cities", "states", "genres", "venue_types"]

_VOCABULARY: dict[str, tuple[str, str]] = {
    "artists": ("artists", "name"),
    "venues": ("venues", "name"),
    "cities": ("venues", "city"),
    "states": ("venues", "state"),
    "genres": ("artists", "genre"),
    "venue_types": ("venues", "venue_type"),
}

_TABLE_NOTES = {
    "artists": "one row per artist; genre is the primary genre, lower case",
    "venues": "one row per venue, with city, state, country, capacity and venue_type",
    "concerts": "one row per concert (scheduled, completed or cancelled) with its price range",
    "ticket_sales": "one row per ticket transaction: channel, price_tier, quantity, amount",
    "fans": "one row per fan (ticket buyer)",
    "concert_results": "box-score results of concerts reported without transactions",
    "concert_performance": "one row per concert: capacity, tickets sold, gross, sell-through",
}


class ColumnInfo(BaseModel):
    name: str
    type: str
    masked: bool = False


class TableInfo(BaseModel):
    name: str
    description: str
    columns: list[ColumnInfo]
    row_filter: str | None = None


class WarehouseSchema(BaseModel):
    """The tables and columns the caller's role may query, with the role's limits."""

    role: str
    aggregate_only: bool
    max_rows: int
    tables: list[TableInfo]


class CatalogEntry(BaseModel):
    name: str
    description: str
    grains: list[str]


class SemanticCatalog(BaseModel):
    """The measures and dimensions a semantic query accepts."""

    measures: list[CatalogEntry]
    dimensions: list[CatalogEntry]


class Vocabulary(BaseModel):
    """Distinct names of one kind of entity in the warehouse, sorted."""

    kind: str
    names: list[str]


def describe_warehouse(ctx: ToolContext) -> WarehouseSchema:
    """The warehouse tables and columns your role may query (masked columns are marked)."""
    role = load_policy().role(ctx.role)
    with reading(ctx.settings) as con:
        schema = warehouse_schema(con, ctx.settings)
    tables = []
    for name, columns in sorted(schema["main"].items()):
        grant = role.grant(name)
        if grant is None or (role.tables is None and name == "schema_migrations"):
            continue
        tables.append(
            TableInfo(
                name=name,
                description=_TABLE_NOTES.get(name, "operations table"),
                columns=[
                    ColumnInfo(name=c, type=t, masked=c in grant.masked)
                    for c, t in columns.items()
                    if grant.allows(c)
                ],
                row_filter=grant.row_filter,
            )
        )
    return WarehouseSchema(
        role=role.name, aggregate_only=role.aggregate_only, max_rows=role.max_rows, tables=tables
    )


def semantic_catalog(ctx: ToolContext) -> SemanticCatalog:
    """Measures and dimensions for semantic_query, each with what it means."""
    model = load_model()
    grains = {f: [f] for f in model.facts}
    return SemanticCatalog(
        measures=[
            CatalogEntry(name=m.name, description=m.description, grains=list(m.sql))
            for m in model.measures.values()
        ],
        dimensions=[
            CatalogEntry(
                name=d.name,
                description=d.description,
                grains=[f for f in grains if d.aliases <= model.facts[f].aliases],
            )
            for d in model.dimensions.values()
        ],
    )


def vocabulary(ctx: ToolContext, kind: VocabularyKind) -> Vocabulary:
    """Distinct names of artists, venues, cities, states, genres or venue_types, sorted."""
    if kind not in _VOCABULARY:
        raise ValidationError(f"unknown vocabulary {kind!r}; kinds: {', '.join(_VOCABULARY)}")
    table, column = _VOCABULARY[kind]
    # fixed identifiers from the mapping above: no caller text reaches this SQL
    sql = f"SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL ORDER BY 1"
    with reading(ctx.settings) as con:
        names = [str(row[0]) for row in con.execute(sql).fetchall()]
    return Vocabulary(kind=kind, names=names)
