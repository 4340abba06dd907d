"""The semantic layer: right answers at the right grain, clear errors, catalog and vocabularies."""

from __future__ import annotations

import pytest
import sqlglot

from core.errors import ValidationError
from core.settings import Settings
from tests.conftest import query_warehouse
from tools.context import ToolContext
from tools.query.catalog import describe_warehouse, semantic_catalog, vocabulary
from tools.query.semantic import compile_semantic, semantic_query
from tools.query.semantic_model import Filter, OrderBy, SemanticQuery, TimeRange


@pytest.fixture
def ctx(query_settings: Settings) -> ToolContext:
    return ToolContext(query_settings, role="analyst")


def test_concert_measures_are_not_multiplied_by_sales(
    ctx: ToolContext, query_settings: Settings
) -> None:
    result = semantic_query(
        ctx, measures=["capacity", "gross_revenue", "fans"], dimensions=["genre"]
    )
    expected = dict(
        query_warehouse(
            query_settings,
            "SELECT a.genre, SUM(cp.capacity) FILTER (WHERE cp.status = 'completed') "
            "FROM concert_performance cp JOIN artists a USING (artist_id) GROUP BY 1",
        )
    )
    got = {r["genre"]: r["capacity"] for r in result.records()}
    assert got == expected
    fans = dict(
        query_warehouse(
            query_settings,
            "SELECT a.genre, COUNT(DISTINCT t.fan_id) FROM ticket_sales t JOIN concerts c "
            "USING (concert_id) JOIN artists a USING (artist_id) GROUP BY 1",
        )
    )
    # genres whose concerts have no transactions have no fans (NULL), not a wrong count
    assert {r["genre"]: r["fans"] for r in result.records()} == {g: fans.get(g) for g in got}
    assert "WITH performance AS" in result.sql and "sales AS" in result.sql


def test_sales_dimensions_use_the_transactions(ctx: ToolContext, query_settings: Settings) -> None:
    result = semantic_query(ctx, measures=["tickets_sold"], dimensions=["channel"])
    expected = dict(
        query_warehouse(
            query_settings, "SELECT channel, SUM(quantity) FROM ticket_sales GROUP BY 1"
        )
    )
    assert {r["channel"]: r["tickets_sold"] for r in result.records()} == expected
    ordered = [r["tickets_sold"] for r in result.records()]
    assert ordered == sorted(ordered, reverse=True)


def test_concert_measure_by_sales_dimension_is_refused_with_the_reason(ctx: ToolContext) -> None:
    with pytest.raises(ValidationError, match="capacity cannot be split or filtered by channel"):
        semantic_query(ctx, measures=["capacity"], dimensions=["channel"])


def test_unknown_names_list_valid_ones_and_suggest(ctx: ToolContext) -> None:
    with pytest.raises(ValidationError, match="Did you mean tickets_sold") as info:
        semantic_query(ctx, measures=["tickets_sld"])
    assert "gross_revenue" in info.value.message
    with pytest.raises(ValidationError, match=r"unknown dimension 'genra'\. Did you mean genre"):
        semantic_query(ctx, measures=["concerts"], dimensions=["genra"])


def test_filters_time_range_and_names_typed_loosely(
    ctx: ToolContext, query_settings: Settings
) -> None:
    artist, _state = query_warehouse(
        query_settings,
        "SELECT a.name, v.state FROM concert_performance cp JOIN artists a USING (artist_id) "
        "JOIN venues v USING (venue_id) WHERE v.state IS NOT NULL ORDER BY cp.concert_id LIMIT 1",
    )[0]
    typed = str(artist).upper()
    result = semantic_query(
        ctx,
        measures=["concerts", "tickets_sold"],
        dimensions=["artist", "year"],
        filters=[Filter(field="artist", op="=", value=typed)],
        time_range=TimeRange(start="2020-01-01", end="2030-12-31"),
    )
    assert result.row_count >= 1 and {r["artist"] for r in result.records()} == {artist}
    (expected,) = query_warehouse(
        query_settings,
        f"SELECT COUNT(*) FROM concert_performance cp JOIN artists a USING (artist_id) "
        f"WHERE a.name = '{str(artist).replace(chr(39), chr(39) * 2)}' "
        "AND cp.event_date BETWEEN DATE '2020-01-01' AND DATE '2030-12-31'",
    )[0:1]
    assert sum(r["concerts"] for r in result.records()) == expected[0]
    with pytest.raises(ValidationError, match="no artist named 'zzqx'; did you mean"):
        semantic_query(ctx, measures=["concerts"], filters=[Filter(field="artist", value="zzqx")])


def test_user_values_are_literals_not_sql(ctx: ToolContext) -> None:
    result = semantic_query(
        ctx,
        measures=["concerts"],
        filters=[Filter(field="city", op="contains", value="x' OR 1=1 --")],
    )
    assert result.rows == [[0]]
    assert "'x'' or 1=1 --'" in result.sql


def test_measure_filters_and_ordering(ctx: ToolContext) -> None:
    result = semantic_query(
        ctx,
        measures=["concerts", "sell_outs"],
        dimensions=["venue_type"],
        filters=[Filter(field="concerts", op=">=", value=10)],
        order_by=[OrderBy(field="venue_type", descending=False)],
        limit=3,
    )
    types = [r["venue_type"] for r in result.records()]
    assert types == sorted(types) and len(types) <= 3
    assert all(r["concerts"] >= 10 for r in result.records())


def test_partner_runs_semantic_queries_on_partner_sales_only(query_settings: Settings) -> None:
    partner = ToolContext(query_settings, role="partner")
    result = semantic_query(partner, measures=["tickets_sold"], dimensions=["channel"])
    assert [r["channel"] for r in result.records()] == ["partner"]


def test_dialects_transpile_and_parse_back() -> None:
    query = SemanticQuery(
        measures=["tickets_sold", "sell_through", "avg_ticket_price", "fans"],
        dimensions=["genre", "month", "weekday"],
        filters=[Filter(field="state", op="in", value=["CA", "NY"])],
        time_range=TimeRange(start="2024-01-01"),
    )
    for dialect in ("duckdb", "postgres", "redshift"):
        sql = compile_semantic(query, dialect=dialect)
        assert sqlglot.parse_one(sql, read=dialect).find(sqlglot.exp.With) is not None
    assert "DOUBLE PRECISION" in compile_semantic(query, dialect="redshift")


def test_catalog_vocabulary_and_schema(ctx: ToolContext, query_settings: Settings) -> None:
    catalog = semantic_catalog(ctx)
    assert {"tickets_sold", "sell_through", "fans"} <= {m.name for m in catalog.measures}
    channel = next(d for d in catalog.dimensions if d.name == "channel")
    assert channel.grains == ["sales"]
    genres = vocabulary(ctx, "genres").names
    assert genres == sorted(genres) and "rock" in genres
    assert len(vocabulary(ctx, "artists").names) == 250
    with pytest.raises(ValidationError, match="unknown vocabulary"):
        vocabulary(ctx, "planets")  # type: ignore[arg-type]
    schema = describe_warehouse(ctx)
    fans = next(t for t in schema.tables if t.name == "fans")
    assert {c.name for c in fans.columns} == {"fan_id", "country", "age_band", "favorite_genre"}
    assert next(c for c in fans.columns if c.name == "fan_id").masked
    partner = describe_warehouse(ToolContext(query_settings, role="partner"))
    assert partner.aggregate_only and "concert_results" not in {t.name for t in partner.tables}
