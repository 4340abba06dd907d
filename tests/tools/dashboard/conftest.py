"""A warehouse with real pipeline runs, shared by the module's tests (they only read it)."""

from __future__ import annotations

import pytest

from core.settings import Settings
from tests.tools.dashboard.runs import ingest_sample_runs


@pytest.fixture(scope="module")
def ingested(small_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return ingest_sample_runs(small_warehouse, tmp_path_factory.mktemp("dashboard"))
