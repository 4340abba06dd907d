"""Concert counts and sell-through of the semantic layer mean completed concerts (auditor's B4).

Before, `concerts` counted scheduled and cancelled shows and `sell_through` pooled their capacity
(with no tickets) into the denominator: "Denver Hearts 18 concerts, 56%" for 12 completed shows
at 70.5% pooled, 75% on average.
"""

from __future__ import annotations

import pytest

from core.errors import ConfigError
from core.settings import Settings
from tests.conftest import query_warehouse
from tools.context import ToolContext
from tools.insights.profile import artist_profile
from tools.query.semantic import semantic_query
from tools.query.semantic_model import Filter, load_model, parse_model


@pytest.fixture
def ctx(query_settings: Settings) -> ToolContext:
    return ToolContext(query_settings, role="analyst")


@pytest.fixture(scope="module")
def mixed_artist(query_settings: Settings) -> tuple[str, dict[str, int]]:
    """An artist with completed concerts and scheduled or cancelled ones, and the counts."""
    rows = query_warehouse(
        query_settings,
        "SELECT a.name FROM concert_performance p JOIN artists a USING (artist_id) "
        "GROUP BY a.name HAVING count(*) FILTER (WHERE p.status = 'completed') >= 3 "
        "AND count(*) FILTER (WHERE p.status <> 'completed') >= 1 ORDER BY a.name LIMIT 1",
    )
    assert rows, "the small demo has artists with upcoming or cancelled shows"
    name = str(rows[0][0])
    counts = query_warehouse(
        query_settings,
        "SELECT p.status, count(*) FROM concert_performance p JOIN artists a USING (artist_id) "
        "WHERE a.name = '" + name.replace("'", "''") + "' GROUP BY 1",
    )
    return name, {str(s): int(str(n)) for s, n in counts}


def test_artist_counts_and_sell_through_are_of_completed_concerts(
    ctx: ToolContext, query_settings: Settings, mixed_artist: tuple[str, dict[str, int]]
) -> None:
    name, counts = mixed_artist
    result = semantic_query(
        ctx,
        measures=["tickets_sold", "concerts", "sell_through", "capacity"],
        dimensions=["artist"],
        filters=[Filter(field="artist", value=name)],
    )
    (row,) = result.records()
    assert row["concerts"] == counts["completed"] < sum(counts.values())
    quoted = name.replace("'", "''")
    truth = query_warehouse(
        query_settings,
        "SELECT avg(p.sell_through), sum(p.capacity) FROM concert_performance p "
        f"JOIN artists a USING (artist_id) WHERE p.status = 'completed' AND a.name = '{quoted}'",
    )
    mean, seats = truth[0]
    assert row["sell_through"] == pytest.approx(float(str(mean)))
    assert row["capacity"] == seats
    # one word, one definition: the artist profile says the same
    profile = artist_profile(ctx, artist=name)
    assert profile.summary["concerts"] == row["concerts"]
    assert profile.summary["avg_sell_through"] == pytest.approx(row["sell_through"])


def test_split_by_status_counts_every_status(
    ctx: ToolContext, mixed_artist: tuple[str, dict[str, int]]
) -> None:
    name, counts = mixed_artist
    result = semantic_query(
        ctx,
        measures=["concerts", "sell_through"],
        dimensions=["status"],
        filters=[Filter(field="artist", value=name)],
    )
    by_status = {r["status"]: r for r in result.records()}
    assert {s: r["concerts"] for s, r in by_status.items()} == counts
    # shows that have not taken place have no sell-through, not 0%
    assert all(r["sell_through"] is None for s, r in by_status.items() if s != "completed")


def test_how_many_concerts_are_scheduled_still_counts_them(
    ctx: ToolContext, query_settings: Settings
) -> None:
    result = semantic_query(
        ctx, measures=["concerts"], filters=[Filter(field="status", value="scheduled")]
    )
    truth = query_warehouse(
        query_settings, "SELECT count(*) FROM concerts WHERE status = 'scheduled'"
    )
    scheduled = int(str(truth[0][0]))
    assert scheduled > 0
    assert result.records()[0]["concerts"] == scheduled


def test_overall_sell_through_ignores_shows_without_results(
    ctx: ToolContext, query_settings: Settings
) -> None:
    (row,) = semantic_query(ctx, measures=["sell_through", "concerts"]).records()
    mean, completed, pooled_all = query_warehouse(
        query_settings,
        "SELECT avg(sell_through) FILTER (WHERE status = 'completed'), "
        "count(*) FILTER (WHERE status = 'completed'), "
        "sum(tickets_sold) / sum(capacity) FROM concert_performance",
    )[0]
    assert row["sell_through"] == pytest.approx(float(str(mean)))
    assert row["concerts"] == completed
    # the old figure (every show's capacity in the denominator) was far lower
    assert row["sell_through"] > float(str(pooled_all)) + 0.1


def test_measure_descriptions_say_what_is_counted() -> None:
    model = load_model()
    assert "completed" in model.measure("concerts").description
    assert "completed" in model.measure("sell_through").description
    assert "averaged" in model.measure("sell_through").description


def test_by_status_needs_a_fact_the_measure_has() -> None:
    data = {
        "facts": {"performance": {"table": "concert_performance", "alias": "e"}},
        "measures": {
            "concerts": {
                "sql": {"performance": "COUNT(*)"},
                "by_status": {"sales": "COUNT(*)"},
            }
        },
        "dimensions": {},
    }
    with pytest.raises(ConfigError, match="concerts"):
        parse_model(data)
