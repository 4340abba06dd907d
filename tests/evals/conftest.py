"""A trained copy of the small warehouse for running the eval suite against the real agent."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from core.settings import Settings
from tests.conftest import copy_warehouse


@pytest.fixture(scope="session")
def eval_warehouse(small_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A copy of the small warehouse with the models the agent's tools load (what `encore demo`
    trains after building); memory and the audit log land in the copy, not in the shared one."""
    from models.forecast.train import train as train_forecast
    from models.ranking import train_ranking
    from models.recommend import train as train_recommender

    settings = copy_warehouse(small_warehouse, Path(tmp_path_factory.mktemp("eval")))
    started = time.monotonic()
    train_ranking(settings)
    train_forecast(settings)
    train_recommender(settings)
    print(f"\nmodels trained in {time.monotonic() - started:.1f} s")
    return settings
