"""Venue ranking: capacity bands at their edges, and a refresh registers a new version."""

from __future__ import annotations

from pathlib import Path

from core.settings import Settings
from core.warehouse import writing
from models.ranking import capacity_band, load_ranking, train_ranking
from tests.conftest import copy_warehouse


def test_capacity_band_edges() -> None:
    assert [capacity_band(c) for c in (1999, 2000, 7999, 8000, 19999, 20000, None)] == [
        "small",
        "mid",
        "mid",
        "large",
        "large",
        "xl",
        None,
    ]


def test_ranking_refreshes_when_the_warehouse_changes(
    small_warehouse: Settings, tmp_path: Path
) -> None:
    settings = copy_warehouse(small_warehouse, tmp_path)
    scores, first = train_ranking(settings)
    assert first.status == "champion" and len(scores) > 20
    assert load_ranking(settings)[1].version == first.version  # unchanged data: reused
    with writing(settings) as con:
        con.execute(
            "DELETE FROM concert_performance WHERE concert_id IN "
            "(SELECT concert_id FROM concert_performance WHERE status = 'completed' LIMIT 1)"
        )
    _, second = load_ranking(settings)
    assert second.version != first.version and second.status == "champion"
