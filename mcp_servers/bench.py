"""Tool-call latency through MCP (stdio, streamable HTTP) against the same tools called in-process.

The server is the real `python -m mcp_servers all` subprocess on the current warehouse; the
baseline is the tool function itself, in this process, on the same warehouse, in the same run.
The difference is what MCP costs: JSON-RPC framing, schema validation, the transport, the thread
hop.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from core.errors import ConfigError
from core.settings import Settings
from core.warehouse import release_readers, share_readers
from tools.context import ToolContext
from tools.ingestion import run_status
from tools.query import semantic_query

CALLS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("run_status", {"limit": 5}),
    ("semantic_query", {"measures": ["tickets_sold", "gross_revenue"], "dimensions": ["genre"]}),
    (
        "semantic_query",
        {
            "measures": ["concerts"],
            "dimensions": ["city"],
            "filters": [{"field": "state", "op": "=", "value": "CA"}],
            "limit": 10,
        },
    ),
)
"""A cheap call (transport cost dominates) and two typical warehouse questions."""

_LOCAL: dict[str, Callable[..., Any]] = {"run_status": run_status, "semantic_query": semantic_query}


def _summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered), 2), "p95_ms": round(p95, 2)}


async def _timed(call: Callable[[], Awaitable[Any]], repeats: int) -> list[float]:
    await call()  # warm: first-call imports and caches are not what a client waits for
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


async def _over_session(client: ClientSession, repeats: int) -> dict[str, list[float]]:
    await client.initialize()
    out: dict[str, list[float]] = {}
    for name, args in CALLS:

        async def call(name: str = name, args: dict[str, Any] = args) -> None:
            result = await client.call_tool(name, args)
            if result.isError:
                raise ConfigError(f"bench call {name} failed: {result.content}")

        out.setdefault(name, []).extend(await _timed(call, repeats))
    return out


def _server_env(settings: Settings) -> dict[str, str]:
    return {**os.environ, "ENCORE_DATA_DIR": str(settings.data_dir.resolve())}


async def _stdio(settings: Settings, repeats: int) -> dict[str, list[float]]:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "mcp_servers", "all"], env=_server_env(settings)
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as client:
        return await _over_session(client, repeats)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _http(settings: Settings, repeats: int) -> dict[str, list[float]]:
    port = _free_port()
    command = [sys.executable, "-m", "mcp_servers", "all", "--transport", "http"]
    server = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        [*command, "--port", str(port)],
        env=_server_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not _listening(port):
            if server.poll() is not None or time.monotonic() > deadline:
                raise ConfigError("the MCP HTTP server did not start; try `encore mcp all`")
            await asyncio.sleep(0.1)
        url = f"http://127.0.0.1:{port}/mcp"
        async with (
            streamable_http_client(url) as (read, write, _),
            ClientSession(read, write) as client,
        ):
            return await _over_session(client, repeats)
    finally:
        server.terminate()
        server.wait(timeout=10)


async def _in_process(settings: Settings, repeats: int) -> dict[str, list[float]]:
    ctx = ToolContext(settings, user="bench", role="analyst")
    out: dict[str, list[float]] = {}
    for name, args in CALLS:

        async def call(name: str = name, args: dict[str, Any] = args) -> None:
            _LOCAL[name](ctx, **args)

        out.setdefault(name, []).extend(await _timed(call, repeats))
    return out


def bench_mcp(settings: Settings, repeats: int = 20) -> dict[str, Any]:
    """p50/p95 per tool and overall over stdio, HTTP and in-process; ratios to in-process."""
    if not settings.warehouse_file.exists():
        raise ConfigError(
            f"no warehouse at {settings.warehouse_file}; run `encore demo --no-ui` first"
        )
    share_readers()  # as the servers do, so in-process is the same work minus MCP
    try:
        runs = {
            "in_process": asyncio.run(_in_process(settings, repeats)),
            "stdio": asyncio.run(_stdio(settings, repeats)),
            "http": asyncio.run(_http(settings, repeats)),
        }
    finally:
        share_readers(False)
        release_readers(settings)
    result: dict[str, Any] = {"repeats": repeats, "transports": {}}
    base = _summary([s for samples in runs["in_process"].values() for s in samples])
    for transport, per_tool in runs.items():
        overall = _summary([s for samples in per_tool.values() for s in samples])
        result["transports"][transport] = {
            **overall,
            "ratio_p50_to_in_process": round(overall["p50_ms"] / base["p50_ms"], 2),
            "tools": {name: _summary(samples) for name, samples in per_tool.items()},
        }
    return result
