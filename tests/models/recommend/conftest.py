"""A writable copy of the small warehouse with a recommender trained on it, once per module."""

from __future__ import annotations

from typing import Any

import pytest

from core.settings import Settings
from tests.conftest import copy_warehouse, query_warehouse


@pytest.fixture(scope="module")
def trained(small_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of a private warehouse copy whose registry holds a champion recommender."""
    from models.recommend import train

    settings = copy_warehouse(small_warehouse, tmp_path_factory.mktemp("recommend"))
    train(settings)
    return settings


@pytest.fixture(scope="module")
def active_fan(small_warehouse: Settings) -> dict[str, Any]:
    """The fan with the most distinct artists bought, with their home."""
    row = query_warehouse(
        small_warehouse,
        """SELECT f.fan_id, f.city, f.state, f.country, count(DISTINCT c.artist_id) AS n
           FROM ticket_sales t JOIN concerts c USING (concert_id) JOIN fans f USING (fan_id)
           GROUP BY ALL ORDER BY n DESC, f.fan_id LIMIT 1""",
    )[0]
    return dict(zip(("fan_id", "city", "state", "country", "artists"), row, strict=True))
