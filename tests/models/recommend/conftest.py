"""A writable copy of the session's trained small warehouse (its recommender is the champion)."""

from __future__ import annotations

from typing import Any

import pytest

from core.settings import Settings
from tests.conftest import copy_warehouse, query_warehouse


@pytest.fixture(scope="module")
def trained(trained_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of a private warehouse copy whose registry holds a champion recommender.

    A copy of `trained_warehouse` (which trains the recommender with `train`, as this module did
    per module before) rather than a training of its own: tests here may retrain and register.
    """
    return copy_warehouse(trained_warehouse, tmp_path_factory.mktemp("recommend"), models=True)


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
