"""What a client waits for when it starts `python -m mcp_servers all`: listing the tools loads no
chart or ML library (tools import them when called), and closing stdin ends the server cleanly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from core.settings import Settings
from tests.mcp_servers.conftest import server_env

HEAVY = ("plotly", "sklearn", "kaleido", "scipy")  # loaded by the tools that use them

LIST_TOOLS = f"""
import asyncio, json, sys
from mcp.shared.memory import create_connected_server_and_client_session
from core.settings import Settings
from mcp_servers import build_server

async def main():
    server = build_server("all", Settings())
    async with create_connected_server_and_client_session(server._mcp_server) as client:
        tools = (await client.list_tools()).tools
    loaded = sorted(name for name in {HEAVY!r} if name in sys.modules)
    print(json.dumps({{"tools": [t.name for t in tools], "loaded": loaded}}))

asyncio.run(main())
"""


def test_listing_every_tool_loads_no_plotly_scikit_learn_or_scipy(
    small_warehouse: Settings,
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", LIST_TOOLS],
        env=server_env(small_warehouse),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    listed = json.loads(done.stdout)
    assert {"make_chart", "predict_ticket_sales", "model_metrics"} <= set(listed["tools"])
    assert listed["loaded"] == []


def _request(method: str, id_: int | None = None, **params: object) -> str:
    message: dict[str, object] = {"jsonrpc": "2.0", "method": method}
    if id_ is not None:
        message |= {"id": id_, "params": params}
    return json.dumps(message) + "\n"


SERVE_AND_MARK_EXIT = """
import atexit, runpy, sys
mark = sys.argv[1]
atexit.register(lambda: open(mark, "w").write("exit handlers ran"))
sys.argv = ["mcp_servers", "all"]
runpy.run_module("mcp_servers", run_name="__main__", alter_sys=True)
"""


def test_closing_stdin_ends_the_server_with_status_0_after_its_exit_handlers(
    small_warehouse: Settings, tmp_path: Path
) -> None:
    mark = tmp_path / "exited"
    hello = {"protocolVersion": "2025-06-18", "capabilities": {},
             "clientInfo": {"name": "test", "version": "1"}}  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-c", SERVE_AND_MARK_EXIT, str(mark)],
        env=server_env(small_warehouse),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert server.stdin is not None and server.stdout is not None and server.stderr is not None
    try:
        server.stdin.write(_request("initialize", 1, **hello))
        server.stdin.write(_request("notifications/initialized"))
        server.stdin.write(_request("tools/call", 2, name="run_status", arguments={"limit": 1}))
        server.stdin.flush()
        replies = [json.loads(server.stdout.readline()) for _ in range(2)]
        server.stdin.close()  # the client has gone
        status = server.wait(timeout=300)
        errors = server.stderr.read()
    finally:
        server.kill()
    assert [r["id"] for r in replies] == [1, 2]
    assert not replies[1]["result"]["isError"]
    assert status == 0, errors
    assert "Traceback" not in errors
    assert mark.read_text() == "exit handlers ran"
