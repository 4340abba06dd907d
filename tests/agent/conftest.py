"""Agent fixtures: the real MCP server over the small warehouse, memory in a temp dir."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.build import close_mcp_clients, mcp_client
from agent.config import AgentSettings
from agent.memory.local import LocalMemory
from agent.service import AgentService
from core.settings import Settings
from tests.agent.scripted import ScriptedModel

MCP_COMMAND = [sys.executable, "-m", "mcp_servers", "all"]
# the real server with run_sql and roles but only the warehouse domain: starts in about half the
# time, for tests that start many servers to count them (the pool's)
WAREHOUSE_MCP_COMMAND = [sys.executable, "-m", "mcp_servers", "warehouse"]


def offline_cli(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Settings:
    """The environment `encore ask` (through CliRunner) answers in: `settings`' warehouse, the
    offline planner and this checkout's MCP server, no traces, no AWS metadata lookups."""
    for name in ("ENCORE_MCP_URL", "ENCORE_WAREHOUSE_PATH", "ENCORE_MODEL_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for key, value in {
        "ENCORE_DATA_DIR": str(settings.data_dir),
        "ENCORE_MCP_COMMAND": json.dumps(MCP_COMMAND),
        "ENCORE_MODEL": "offline",
        "ENCORE_TRACES": "none",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(key, value)
    return settings


def agent_settings(**overrides: Any) -> AgentSettings:
    """Agent settings for tests: the real MCP server (`mcp_command` to pick another), no traces."""
    return AgentSettings(**{"mcp_command": MCP_COMMAND, "traces": "none", **overrides})


@pytest.fixture(scope="session")
def agent_mcp(small_warehouse: Settings) -> Iterator[Any]:
    """The shared `python -m mcp_servers all` subprocess over the small warehouse: the one every
    analyst's agent uses (`build_agent` shares a server per role)."""
    client = mcp_client(
        small_warehouse, user="local", role="analyst", command=MCP_COMMAND, shared=True
    )
    yield client
    close_mcp_clients()


@pytest.fixture
def memory(tmp_path: Path) -> LocalMemory:
    return LocalMemory(tmp_path / "memory")


@pytest.fixture
def make_service(
    small_warehouse: Settings, agent_mcp: Any, memory: LocalMemory
) -> Callable[..., AgentService]:
    """`make_service(model, user=..., session=...)`: an AgentService on the small warehouse."""

    def make(model: Any, **kwargs: Any) -> AgentService:
        kwargs.setdefault("memory", memory)
        kwargs.setdefault("agent_settings", agent_settings())
        return AgentService.create(small_warehouse, model=model, **kwargs)

    return make


@pytest.fixture
def scripted() -> type[ScriptedModel]:
    return ScriptedModel
