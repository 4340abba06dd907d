"""Forecast tools open the warehouse once per call: each open costs tens of milliseconds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import core.warehouse
from core.warehouse import reading
from tools.context import ToolContext
from tools.insights.forecast import predict_concerts, predict_ticket_sales


@pytest.fixture
def opens(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts read-only warehouse opens from here on."""
    count: list[int] = []
    real: Callable[..., Any] = core.warehouse.connect_reader

    def counting(*args: Any, **kwargs: Any) -> Any:
        count.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(core.warehouse, "connect_reader", counting)
    return count


def test_predict_concerts_opens_one_reader_and_gives_each_venue_s_capacity(
    ctx: ToolContext, opens: list[int]
) -> None:
    with reading(ctx.settings) as con:
        rows = con.execute(
            "SELECT c.concert_id, v.capacity FROM concerts c JOIN venues v USING (venue_id) "
            "WHERE c.status = 'scheduled' ORDER BY 1 LIMIT 4"
        ).fetchall()
    ids = [cid for cid, _ in rows]
    predict_concerts(ctx, concert_ids=ids[:1])  # trains the model on first use
    opens.clear()
    result = predict_concerts(ctx, concert_ids=ids)
    assert len(opens) == 1
    assert [(p.concert_id, p.capacity) for p in result.predictions] == rows
    assert all(
        f"of {capacity} seats" in p.explanation[0]
        for p, (_, capacity) in zip(result.predictions, rows, strict=True)
    )


def test_predict_ticket_sales_opens_one_reader(ctx: ToolContext, opens: list[int]) -> None:
    with reading(ctx.settings) as con:
        artist, venue = con.execute(
            "SELECT a.name, v.name FROM concert_performance cp JOIN artists a USING (artist_id) "
            "JOIN venues v USING (venue_id) WHERE cp.status = 'completed' ORDER BY cp.event_date "
            "DESC LIMIT 1"
        ).fetchall()[0]
    predict_ticket_sales(ctx, artist=artist, venue=venue, date="2026-12-20")
    opens.clear()
    prediction = predict_ticket_sales(ctx, artist=artist, venue=venue, date="2026-12-20")
    assert len(opens) == 1 and not prediction.cold_start
