"""The AgentCore runtime as a real HTTP server: /ping, /invocations JSON and SSE, sessions."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agent.memory.local import LocalMemory
from core.settings import Settings

SESSION_HEADER = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def runtime(
    small_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    data_dir = tmp_path_factory.mktemp("runtime")
    port = _free_port()
    env = os.environ | {
        "ENCORE_DATA_DIR": str(data_dir),
        "ENCORE_WAREHOUSE_PATH": str(small_warehouse.warehouse_file),
        "ENCORE_USER": "bo",  # who a call without a bearer token is (the body cannot say)
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.agent.runtime_server", str(port)],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/ping", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            time.sleep(0.2)
    try:
        yield url, data_dir
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_ping(runtime: tuple[str, Path]) -> None:
    response = httpx.get(f"{runtime[0]}/ping")
    assert response.status_code == 200
    assert response.json()["status"] in ("Healthy", "HealthyBusy")


def test_invocations_answer_with_the_turn_result(runtime: tuple[str, Path]) -> None:
    response = httpx.post(
        f"{runtime[0]}/invocations",
        json={"prompt": "genre sales please", "user": "ana"},
        headers={SESSION_HEADER: "sess-json-0000000000000000000000001"},
        timeout=60,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["answer"] == "Sales are in."
    assert body["tool_calls"][0]["name"] == "semantic_query"
    assert body["tables"][0]["columns"] == ["genre", "tickets_sold"]
    assert body["session"] == "sess-json-0000000000000000000000001"


def test_streaming_sends_server_sent_events(runtime: tuple[str, Path]) -> None:
    with httpx.stream(
        "POST",
        f"{runtime[0]}/invocations",
        json={"prompt": "genre sales please", "stream": True},
        timeout=60,
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [
            json.loads(line[len("data: ") :])
            for line in response.iter_lines()
            if line.startswith("data: ")
        ]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "tool_started" and kinds[-1] == "done"
    assert "tool_finished" in kinds and "text" in kinds
    assert events[-1]["result"]["answer"] == "Sales are in."


def test_the_session_header_selects_the_conversation_and_its_memory(
    runtime: tuple[str, Path],
) -> None:
    url, data_dir = runtime

    def ask(session: str) -> str:
        response = httpx.post(
            f"{url}/invocations",
            json={"prompt": "hello"},
            headers={SESSION_HEADER: session},
            timeout=60,
        )
        return str(response.json()["answer"])

    a, b = "session-a-000000000000000000000000001", "session-b-000000000000000000000000001"
    assert ask(a) == "turns=1"
    assert ask(a) == "turns=2"
    assert ask(b) == "turns=1"
    memory = LocalMemory(data_dir / "memory")
    assert [e.text for e in memory.events("bo", a)] == ["hello", "turns=1", "hello", "turns=2"]
    assert len(memory.events("bo", b)) == 2
    assert memory.events("ana", a) == []
