"""Planner fixtures: a trained copy of the small warehouse and its vocabularies."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.memory.local import LocalMemory
from agent.service import AgentService
from core.settings import Settings
from tests.agent.conftest import agent_settings
from tests.agent.planner.test_demo_conversations import query_warehouse
from tests.conftest import copy_warehouse


@pytest.fixture(scope="session")
def trained(trained_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A copy of the trained small warehouse (venue ranking, predictions, recommendations)."""
    return copy_warehouse(trained_warehouse, Path(tmp_path_factory.mktemp("demo")), models=True)


@pytest.fixture(scope="session")
def vocab(small_warehouse: Settings) -> Any:
    sql = {
        "artists": "SELECT name FROM artists",
        "venues": "SELECT name FROM venues",
        "cities": "SELECT DISTINCT city AS name FROM venues",
        "states": "SELECT DISTINCT state AS name FROM venues WHERE state IS NOT NULL",
        "genres": "SELECT DISTINCT genre AS name FROM artists WHERE genre IS NOT NULL",
        "venue_types": "SELECT DISTINCT venue_type AS name FROM venues",
    }
    cache = {k: [r["name"] for r in query_warehouse(small_warehouse, q)] for k, q in sql.items()}
    return lambda kind: cache.get(kind, [])


@pytest.fixture
def private_service(
    small_warehouse: Settings, tmp_path: Path
) -> Iterator[tuple[Settings, AgentService]]:
    """An analyst's offline agent on a private, writable copy of the small warehouse (for turns
    that write: a confirmed pipeline run or ingest), with its own MCP server and memory."""
    settings = copy_warehouse(small_warehouse, tmp_path / "copy")
    service = AgentService.create(
        settings, user="ops", role="analyst", model="offline",
        memory=LocalMemory(tmp_path / "memory"), agent_settings=agent_settings(),
    )  # fmt: skip
    yield settings, service
    asyncio.run(service.aclose())
