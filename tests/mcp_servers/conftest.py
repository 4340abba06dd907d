"""MCP servers under test: in memory, as a stdio subprocess and over streamable HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from mcp import ClientSession
from mcp.shared.memory import create_connected_server_and_client_session

from core.settings import Settings
from mcp_servers import ServerName, build_server


def server_env(settings: Settings, role: str = "analyst") -> dict[str, str]:
    """The environment an MCP client gives `python -m mcp_servers`: data dir and role only."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "ENCORE_DATA_DIR": str(settings.data_dir),
        "ENCORE_ROLE": role,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@asynccontextmanager
async def connected(
    settings: Settings, name: ServerName = "all", role: str = "analyst"
) -> AsyncIterator[ClientSession]:
    """An MCP client connected in memory to server `name`.

    A context manager, not a fixture: the session's cancel scopes must open and close in the
    test's own task, which pytest-asyncio does not promise for async fixtures.
    """
    server = build_server(name, settings, role=role)
    async with create_connected_server_and_client_session(server._mcp_server) as client:
        yield client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def http_server(small_warehouse: Settings) -> Iterator[str]:
    """`encore mcp all --transport http` as a subprocess; yields its /mcp URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mcp_servers", "all", "--transport", "http", "--port", str(port)],
        env=server_env(small_warehouse),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "exited")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


INSPECTOR = Path(__file__).resolve().parents[2] / ".venv" / "node" / "node_modules" / ".bin"
