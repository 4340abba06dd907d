"""Fixtures for the insight tools."""

from __future__ import annotations

import pytest

from core.settings import Settings
from tests.conftest import copy_warehouse
from tools.context import ToolContext


@pytest.fixture(scope="module")
def ctx(small_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> ToolContext:
    """A tool context on a private copy per module: serving trains and registers models."""
    return ToolContext(copy_warehouse(small_warehouse, tmp_path_factory.mktemp("insights")))
