"""The insight tools: venue_ranking, the sales forecasts and model_metrics on a small warehouse."""

from __future__ import annotations

import pytest

from core.errors import ValidationError
from core.warehouse import reading
from models.registry import ModelRegistry
from tools.context import ToolContext
from tools.insights.forecast import (
    predict_concerts,
    predict_ticket_sales,
    predict_ticket_sales_batch,
)
from tools.insights.metrics import model_metrics
from tools.insights.ranking import venue_ranking


def test_venue_ranking_scores_add_up_and_filters_apply(ctx: ToolContext) -> None:
    result = venue_ranking(ctx, limit=5)
    assert [r.rank for r in result.rows] == [1, 2, 3, 4, 5]
    scores = [r.score for r in result.rows]
    assert scores == sorted(scores, reverse=True)
    for row in result.rows:
        total = sum(f["contribution"] for f in row.factors.values())
        assert abs(total - row.score) < 0.01
    assert result.table.columns[:3] == ["rank", "venue", "city"]
    state = result.rows[0].state
    assert state is not None
    in_state = venue_ranking(ctx, state=state.lower(), capacity_band=None, limit=50)
    assert in_state.filters == {"state": state}
    assert in_state.rows and all(r.state == state for r in in_state.rows)
    small = venue_ranking(ctx, capacity_band="small", limit=50)
    assert all(r.capacity is not None and r.capacity < 2000 for r in small.rows)


def test_venue_ranking_is_stored_and_reused(ctx: ToolContext) -> None:
    first = venue_ranking(ctx, limit=1)
    second = venue_ranking(ctx, limit=1)
    assert first.model_version == second.model_version
    assert first.computed_at == second.computed_at
    assert ModelRegistry(ctx.settings).current("venue_ranking") is not None


def test_venue_ranking_genre_filter_and_unknown_values(ctx: ToolContext) -> None:
    with reading(ctx.settings) as con:
        genre = con.execute(
            "SELECT genre FROM artists GROUP BY 1 ORDER BY count(*) DESC"
        ).fetchall()[0][0]
    rows = venue_ranking(ctx, genre=genre.upper(), limit=3).rows
    assert rows
    with pytest.raises(ValidationError, match="capacity_band"):
        venue_ranking(ctx, capacity_band="huge")
    with pytest.raises(ValidationError, match="did you mean"):
        venue_ranking(ctx, city="Zzyzx Springs")


def test_predict_ticket_sales_trains_on_demand_and_resolves_names(ctx: ToolContext) -> None:
    with reading(ctx.settings) as con:
        artist, venue = con.execute(
            "SELECT a.name, v.name FROM concert_performance p JOIN artists a USING (artist_id) "
            "JOIN venues v USING (venue_id) WHERE p.status = 'completed' LIMIT 1"
        ).fetchall()[0]
    result = predict_ticket_sales(ctx, artist=artist.upper(), venue=venue, date="2026-12-20")
    assert result.artist == artist and result.venue == venue
    assert result.tickets_low <= result.tickets_sold <= result.tickets_high
    assert result.gross_low <= result.gross <= result.gross_high
    assert result.low_confidence == (result.confidence < 0.70)
    assert result.model_version == "v0001" and result.explanation
    with pytest.raises(ValidationError, match="no artist named"):
        predict_ticket_sales(ctx, artist="Qwxyz Nonexistent", venue=venue, date="2026-12-20")
    with pytest.raises(ValidationError, match="ISO"):
        predict_ticket_sales(ctx, artist=artist, venue=venue, date="next friday")
    batch = predict_ticket_sales_batch(
        ctx, items=[{"artist": artist, "venue": venue, "date": "2026-12-20", "price": 30.0}] * 2
    )
    assert len(batch.predictions) == 2 and len(batch.table.rows) == 2


def test_predict_concerts_and_model_metrics(ctx: ToolContext) -> None:
    with reading(ctx.settings) as con:
        ids = [
            r[0]
            for r in con.execute(
                "SELECT concert_id FROM concerts WHERE status = 'scheduled' ORDER BY 1 LIMIT 3"
            ).fetchall()
        ]
    result = predict_concerts(ctx, concert_ids=ids)
    assert [p.concert_id for p in result.predictions] == ids
    with pytest.raises(ValidationError, match="unknown concert ids"):
        predict_concerts(ctx, concert_ids=["NOPE"])
    metrics = model_metrics(ctx)
    assert metrics.champions.get("sales_forecast") == "v0001"
    assert "mape" in metrics.table.columns
