"""build_agent's tool sources: the shared stdio client, and a running streamable-HTTP server."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.build import (
    DEFAULT_IDLE_S,
    DEFAULT_LINGER_S,
    DEFAULT_MAX_LIVE,
    build_agent,
    configure_mcp_pool,
    live_mcp_clients,
    mcp_client,
)
from agent.memory.local import LocalMemory
from agent.service import AgentService
from core.errors import ConfigError
from core.settings import Settings
from tests.agent.conftest import MCP_COMMAND, WAREHOUSE_MCP_COMMAND, agent_settings
from tests.agent.scripted import ScriptedModel


def test_users_of_a_role_share_one_mcp_client(small_warehouse: Settings, agent_mcp: Any) -> None:
    again = mcp_client(
        small_warehouse, user="someone", role="analyst", command=MCP_COMMAND, shared=True
    )
    assert again is agent_mcp
    other_role = mcp_client(
        small_warehouse, user="local", role="partner", command=MCP_COMMAND, shared=True
    )
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


def _mcp_servers_running() -> int:
    """Child processes of this test run that are `python -m mcp_servers` (not zombies)."""
    count = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[1]) == os.getpid() and b"mcp_servers" in cmdline:
            count += 1
    return count


@pytest.fixture
def small_pool() -> Iterator[None]:
    """Two servers; an idle one gives its slot up at once (no lingering between turns)."""
    configure_mcp_pool(max_live=2, idle_s=DEFAULT_IDLE_S, linger_s=0)
    yield
    configure_mcp_pool(max_live=DEFAULT_MAX_LIVE, idle_s=DEFAULT_IDLE_S, linger_s=DEFAULT_LINGER_S)


ROWS = "SELECT name FROM artists ORDER BY name LIMIT 3"


def _pooled_service(settings: Settings, memory: LocalMemory, user: str, role: str) -> AgentService:
    """A service whose turns read artist rows through run_sql twice, on a server of its own
    (unshared, the warehouse domain: the pool tests start many servers)."""
    return AgentService.create(
        settings,
        user=user,
        role=role,
        model=ScriptedModel([("run_sql", {"sql": ROWS}), "done"] * 2),
        memory=memory,
        agent_settings=agent_settings(mcp_command=WAREHOUSE_MCP_COMMAND, mcp_share=False),
    )


def _turn(service: AgentService) -> Any:
    """One turn that reads artist rows through run_sql: analysts may, partners may not."""
    return asyncio.run(service.ask("list some artists"))


def test_many_users_keep_at_most_n_servers_and_each_its_own_role(
    small_warehouse: Settings, memory: LocalMemory, small_pool: None
) -> None:
    people = [("pia", "partner"), ("ana", "analyst"), ("bo", "analyst")]  # one more than fits
    services = {}
    for user, role in people:
        services[user] = service = _pooled_service(small_warehouse, memory, user, role)
        result = _turn(service)
        call = result.tool_calls[0]
        assert (call.error is None) == (role == "analyst"), call
        assert len(live_mcp_clients()) <= 2
        assert _mcp_servers_running() <= 2
    assert {c.key[3] for c in live_mcp_clients()} == {"ana", "bo"}  # pia's was stopped

    again = _turn(services["pia"])  # her server starts again, still as a partner
    assert again.tool_calls[0].error is not None and "aggregate" in again.tool_calls[0].error
    assert _turn(services["ana"]).tool_calls[0].output["row_count"] == 3
    assert {c.key[3] for c in live_mcp_clients()} == {"pia", "ana"}
    assert _mcp_servers_running() <= 2


def test_an_idle_server_stops_and_starts_again_on_use(
    small_warehouse: Settings, memory: LocalMemory, small_pool: None
) -> None:
    service = _pooled_service(small_warehouse, memory, "idle", "analyst")
    client = mcp_client(small_warehouse, user="idle", role="analyst", command=WAREHOUSE_MCP_COMMAND)
    assert _turn(service).tool_calls[0].output["row_count"] == 3
    configure_mcp_pool(idle_s=0.3)
    deadline = time.monotonic() + 10
    while client.running() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not client.running() and client not in live_mcp_clients()
    assert _turn(service).tool_calls[0].output["row_count"] == 3
    assert client.starts == 2


def test_concurrent_turns_of_many_users_all_answer_and_leave_n_servers(
    small_warehouse: Settings, memory: LocalMemory, small_pool: None
) -> None:
    """Chainlit runs every user's turn on one event loop: restarts happen off it, servers of
    running turns are never stopped, and once the turns end the pool is back to its bound."""
    users = [f"u{i}" for i in range(3)]  # one more than the pool's bound of 2
    services = [_pooled_service(small_warehouse, memory, user, "analyst") for user in users]

    async def turns() -> list[Any]:
        first = await asyncio.gather(*(s.ask("list some artists") for s in services))
        again = await asyncio.gather(*(s.ask("and again") for s in services))
        return [*first, *again]

    results = asyncio.run(turns())
    assert [r.tool_calls[0].output["row_count"] for r in results] == [3] * 2 * len(users)
    deadline = time.monotonic() + 15
    while (len(live_mcp_clients()) > 2 or _mcp_servers_running() > 2) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.2)  # the burst's extra server stops once idle; its process exits after
    assert len(live_mcp_clients()) <= 2
    assert _mcp_servers_running() <= 2


def test_the_pool_bounds_come_from_the_environment_unless_code_set_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from agent import build
    from agent.config import AgentSettings

    monkeypatch.setenv("ENCORE_MCP_MAX_LIVE", "3")
    monkeypatch.setenv("ENCORE_MCP_IDLE_S", "42")
    monkeypatch.setattr(build._POOL, "explicit", False)
    try:
        build._pool_bounds_from(AgentSettings())
        assert (build._POOL.max_live, build._POOL.idle_s) == (3, 42.0)
        configure_mcp_pool(max_live=5)  # code wins over the environment from then on
        build._pool_bounds_from(AgentSettings())
        assert build._POOL.max_live == 5
    finally:
        configure_mcp_pool(max_live=DEFAULT_MAX_LIVE, idle_s=DEFAULT_IDLE_S)
