"""The warehouse server: semantic queries, guarded SQL, schema and vocabularies."""

from __future__ import annotations

from mcp.server.fastmcp import FastMCP

from mcp_servers.binding import register as add
from tools import query
from tools.context import ToolContext

INSTRUCTIONS = (
    "Concert warehouse: prefer semantic_query (measures by dimensions, SQL returned with the "
    "result); run_sql takes one read-only SELECT checked against the caller's role."
)


def register(server: FastMCP, ctx: ToolContext) -> None:
    add(server, ctx, query.semantic_query)
    add(server, ctx, query.run_sql, title="Run a read-only SQL query")
    add(server, ctx, query.describe_warehouse)
    add(server, ctx, query.semantic_catalog)
    add(server, ctx, query.vocabulary)

    @server.resource(
        "encore://schema", name="schema", mime_type="application/json",
        description="Tables and columns of the warehouse visible to this server's role",
    )  # fmt: skip
    def schema() -> str:
        return query.describe_warehouse(ctx).model_dump_json()

    @server.resource(
        "encore://semantic-catalog", name="semantic-catalog", mime_type="application/json",
        description="Measures and dimensions semantic_query understands",
    )  # fmt: skip
    def catalog() -> str:
        return query.semantic_catalog(ctx).model_dump_json()

    @server.resource(
        "encore://vocabulary/{kind}", name="vocabulary", mime_type="application/json",
        description="Names of artists, venues, cities, states, genres or venue_types",
    )  # fmt: skip
    def vocabulary(kind: str) -> str:
        return query.vocabulary(ctx, kind=kind).model_dump_json()  # type: ignore[arg-type]
