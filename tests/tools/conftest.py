"""Fixtures shared by the tool tests."""

from __future__ import annotations

import pytest

from core.settings import Settings
from tools.context import ToolContext


@pytest.fixture(scope="module")
def ctx(small_warehouse: Settings) -> ToolContext:
    """A tool context on the shared small warehouse, for tools that only read it."""
    return ToolContext(small_warehouse)
