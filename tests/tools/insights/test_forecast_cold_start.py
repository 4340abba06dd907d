"""A forecast for an artist or venue with no past concerts is no more confident than such
forecasts proved, says which is new, and a date before the data's today is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ValidationError
from core.settings import Settings
from models.forecast.train import load_or_train
from tests.conftest import copy_warehouse, query_warehouse
from tools.context import ToolContext
from tools.insights.forecast import predict_ticket_sales


def test_a_cold_start_is_capped_named_and_a_past_date_refused(
    trained_warehouse: Settings, tmp_path: Path
) -> None:
    settings = copy_warehouse(trained_warehouse, tmp_path, models=True)
    model, _ = load_or_train(settings)
    assert model.cold_start_hit_rate is not None and 0 < model.cold_start_hit_rate <= 1
    [(artist,)] = query_warehouse(
        settings,
        "SELECT min(name) FROM artists WHERE artist_id NOT IN "
        "(SELECT artist_id FROM concert_performance WHERE status = 'completed')",
    )
    [(venue, today)] = query_warehouse(
        settings,
        "SELECT (SELECT v.name FROM venues v JOIN concert_performance p USING (venue_id) "
        "WHERE p.status = 'completed' GROUP BY v.name ORDER BY count(*) DESC, v.name LIMIT 1), "
        "(SELECT max(event_date) + 1 FROM concert_performance WHERE status = 'completed')",
    )
    ctx = ToolContext(settings)
    day = (today.replace(year=today.year + 1)).isoformat()
    forecast = predict_ticket_sales(ctx, artist=str(artist), venue=str(venue), date=day)
    assert forecast.cold_start and forecast.confidence <= model.cold_start_hit_rate + 1e-9
    [cold] = [line for line in forecast.explanation if line.startswith("cold start")]
    assert "no past concerts for this artist;" in cold  # the venue has some
    past = today.replace(year=today.year - 3).isoformat()
    with pytest.raises(ValidationError, match=f"{past} is before the data's today"):
        predict_ticket_sales(ctx, artist=str(artist), venue=str(venue), date=past)
