"""Many sessions at once on the real AgentCore runtime subprocess: every session gets its own
correct answer, and /ping keeps answering (HealthyBusy while turns run, Healthy after)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from agent.loadtest.servers import serve
from agent.loadtest.users import HEALTHY, SESSION_HEADER, answer_error
from core.settings import Settings

SESSIONS = 12
STATES = ("CA", "FL", "NC", "OH", "TX", "NY")  # states with several venues in the small world


@pytest.fixture(scope="module")
def runtime_url(
    small_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("load-runtime")
    env = {
        "ENCORE_DATA_DIR": str(data_dir),
        "ENCORE_WAREHOUSE_PATH": str(small_warehouse.warehouse_file),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    command = [sys.executable, "-m", "tests.agent.load_server"]
    with serve("runtime", env, data_dir, command=command, ready_timeout_s=90) as server:
        yield server.url


async def _ask(http: httpx.AsyncClient, url: str, n: int) -> tuple[int, httpx.Response]:
    response = await http.post(
        f"{url}/invocations",
        json={"prompt": f"sales in {STATES[n % len(STATES)]} #{n}", "user": "ana"},
        headers={SESSION_HEADER: f"load-test-session-{n:04d}-0000000000000000"},
    )
    return n, response


async def _load(url: str) -> tuple[list[tuple[int, httpx.Response]], list[dict[str, Any]]]:
    """SESSIONS turns at once while /ping is polled; (answers, ping bodies)."""
    pings: list[dict[str, Any]] = []
    done = asyncio.Event()
    async with httpx.AsyncClient(timeout=90, trust_env=False) as http:
        await _ask(http, url, 0)  # the MCP server starts on the first turn: not under test

        async def poll() -> None:
            while not done.is_set():
                response = await http.get(f"{url}/ping", timeout=10)
                assert response.status_code == 200
                pings.append(response.json())
                await asyncio.sleep(0.05)

        poller = asyncio.create_task(poll())
        answers = await asyncio.gather(*(_ask(http, url, n) for n in range(SESSIONS)))
        done.set()
        await poller
        pings.append((await http.get(f"{url}/ping")).json())
    return answers, pings


def test_concurrent_sessions_each_get_their_own_answer_and_ping_stays_healthy(
    runtime_url: str,
) -> None:
    answers, pings = asyncio.run(_load(runtime_url))

    for n, response in answers:
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["answer"] == f"answer to #{n}"
        assert body["session"] == f"load-test-session-{n:04d}-0000000000000000"
        table = body["tables"][0]
        states = {row[table["columns"].index("state")] for row in table["rows"]}
        assert states == {STATES[n % len(STATES)]}  # this session's query, not another's
    assert all(p["status"] in HEALTHY for p in pings)
    assert any(p["status"] == "HealthyBusy" for p in pings[:-1])
    assert pings[-1]["status"] == "Healthy"  # idle again once every turn has ended


def _answer(session: str, **body: Any) -> httpx.Response:
    fields = {"answer": "42 venues", "session": session, "tool_calls": []} | body
    return httpx.Response(200, json=fields)


@pytest.mark.parametrize(
    ("response", "kind"),
    [
        (_answer("s-1"), None),
        (_answer("s-2"), "another session's answer"),
        (_answer("s-1", answer=" "), "empty answer"),
        (
            _answer("s-1", tool_calls=[{"name": "semantic_query", "error": "boom"}]),
            "tool error in answer",
        ),
        (
            httpx.Response(200, json={"error": "the MCP tool server did not start"}),
            "error in answer",
        ),
        (httpx.Response(503, headers={"Retry-After": "5"}), "HTTP 503"),
        (httpx.Response(503), "HTTP 503 without Retry-After"),
    ],
)
def test_the_load_bench_counts_a_wrong_answer_as_a_failure(
    response: httpx.Response, kind: str | None
) -> None:
    assert answer_error("s-1")(response) == kind
