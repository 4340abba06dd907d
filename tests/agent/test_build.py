"""build_agent's tool sources: the shared stdio client, and a running streamable-HTTP server."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.build import build_agent, mcp_client
from agent.memory.local import LocalMemory
from core.errors import ConfigError
from core.settings import Settings
from tests.agent.conftest import MCP_COMMAND, agent_settings
from tests.agent.scripted import ScriptedModel


def test_sessions_share_one_mcp_client(small_warehouse: Settings, agent_mcp: Any) -> None:
    again = mcp_client(small_warehouse, user="local", role="analyst", command=MCP_COMMAND)
    assert again is agent_mcp
    other_role = mcp_client(small_warehouse, user="local", role="partner", command=MCP_COMMAND)
    assert other_role is not agent_mcp  # the role is fixed per server process


def test_tools_come_from_a_streamable_http_server(
    small_warehouse: Settings, tmp_path: Path
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = os.environ | {
        "ENCORE_DATA_DIR": str(tmp_path / "server"),
        "ENCORE_WAREHOUSE_PATH": str(small_warehouse.warehouse_file),
    }
    http = ["--transport", "http", "--port", str(port)]
    proc = subprocess.Popen([*MCP_COMMAND, *http], env=env, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        model = ScriptedModel(["ok"])
        agent = build_agent(
            small_warehouse,
            user="web",
            session="h1",
            role="analyst",
            model=model,
            memory=LocalMemory(tmp_path),
            agent_settings=agent_settings(mcp_url=url),
        )
        names = set(agent.tool_names)
        assert {"semantic_query", "run_sql", "make_chart", "recall_memory"} <= names
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_an_unreachable_server_is_a_config_error(small_warehouse: Settings) -> None:
    with pytest.raises(ConfigError, match=r"ENCORE_MCP_URL=http://127\.0\.0\.1:9/mcp"):
        mcp_client(
            small_warehouse, user="x", role="analyst", url="http://127.0.0.1:9/mcp", timeout_s=5
        )
