"""`encore bench load`: many concurrent users on the served entrypoints, measured against one.

The AgentCore runtime and the REST API run as subprocesses on loopback over a demo warehouse
(built into a temporary folder unless one is given). One user first goes round the whole mix
alone - an agent question, then rankings, a forecast and recommendations - which is the
baseline; then `users` virtual users run at once for `duration_s`: chat users, each in its own
session, asking the agent the benchmark questions, and API clients with their own tokens. A
health checker calls /ping throughout, as AgentCore does. Each endpoint reports requests,
throughput, p50/p95/p99, failures by kind and p95 under load over p95 alone; each server its
peak memory with its MCP subprocesses.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx

from agent.bench import QUESTIONS
from agent.loadtest import users as vu
from agent.loadtest.servers import Server, serve
from core.errors import ConfigError
from core.settings import Settings

_STATE = frozenset({"api", "ui", "memory", "traces"})  # what the servers write: kept apart
Progress = Callable[[str, float, vu.Recorder], None]
User = Callable[[vu.Recorder], Coroutine[Any, Any, None]]


@contextmanager
def demo_data(data_dir: Path | None) -> Iterator[tuple[Path, Path]]:
    """(state dir, warehouse file): the servers' own writable data dir, which links to the
    given data dir's warehouse, models and lake, or to a small demo built for this run."""
    with tempfile.TemporaryDirectory(prefix="encore-load-") as folder:
        state = Path(folder) / "state"
        state.mkdir()
        if data_dir is None:
            data_dir = Path(folder) / "demo"
            built = subprocess.run(
                [sys.executable, "-m", "agent.cli", "demo", "--scale", "small", "--no-ui"],
                env=os.environ | {"ENCORE_DATA_DIR": str(data_dir)},
                capture_output=True,
                text=True,
                check=False,
            )
            if built.returncode:
                raise ConfigError("the demo warehouse did not build:\n" + built.stderr[-2000:])
        source = Settings(data_dir=data_dir)
        if not source.warehouse_file.exists():
            raise ConfigError(f"no warehouse at {source.warehouse_file}; run `encore demo` first")
        for entry in data_dir.iterdir():  # users, tokens and memory of the run stay in `state`
            if entry.name not in _STATE:
                (state / entry.name).symlink_to(entry.resolve())
        yield state, source.warehouse_file


def api_inputs(warehouse: Path) -> vu.ApiInputs:
    """Names the API calls use, read before the servers open the warehouse."""
    with duckdb.connect(str(warehouse), read_only=True) as con:

        def names(sql: str) -> tuple[str, ...]:
            return tuple(str(row[0]) for row in con.sql(sql).fetchall())

        return vu.ApiInputs(
            artists=names("select name from artists order by popularity desc limit 20"),
            venues=names("select name from venues order by capacity desc limit 20"),
            genres=names("select distinct genre from artists where genre is not null"),
            cities=names("select city from venues group by city order by count(*) desc limit 8"),
            future_date=(date.today() + timedelta(days=60)).isoformat(),
        )


def add_api_users(state: Path, count: int) -> tuple[list[str], str]:
    """Local users load-0..count-1 sharing one random password."""
    from agent.ui.auth import UserStore

    password = secrets.token_urlsafe(12)
    store = UserStore(Settings(data_dir=state))
    names = [f"load-{i}" for i in range(count)]
    for name in names:
        store.add(name, password)
    return names, password


async def sign_in(http: httpx.AsyncClient, url: str, names: list[str], password: str) -> list[str]:
    async def one(name: str) -> str:
        response = await http.post(f"{url}/v1/token", data={"username": name, "password": password})
        response.raise_for_status()
        return str(response.json()["access_token"])

    return list(await asyncio.gather(*(one(name) for name in names)))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def endpoint_figures(samples: list[vu.Sample], seconds: float) -> dict[str, dict[str, Any]]:
    """Per endpoint: requests, req/s, p50/p95/p99 over every request, failures by kind."""
    figures: dict[str, dict[str, Any]] = {}
    for endpoint in sorted({s.endpoint for s in samples}):
        mine = [s for s in samples if s.endpoint == endpoint]
        ms = [s.ms for s in mine]
        errors = Counter(s.error for s in mine if s.error)
        figures[endpoint] = {
            "requests": len(mine),
            "req_per_s": round(len(mine) / seconds, 2),
            "p50_ms": round(statistics.median(ms), 1),
            "p95_ms": round(percentile(ms, 0.95), 1),
            "p99_ms": round(percentile(ms, 0.99), 1),
            "max_ms": round(max(ms), 1),
            "errors": dict(errors.most_common()),
            "error_rate": round(sum(errors.values()) / len(mine), 4),
        }
    return figures


async def _phase(
    name: str,
    seconds: float,
    users: list[User],
    servers: list[Server],
    progress: Progress | None,
) -> tuple[list[vu.Sample], float]:
    """Run `users` until `seconds` pass, sampling the servers' memory; (samples, elapsed)."""
    recorder = vu.Recorder()
    tasks = [asyncio.create_task(user(recorder)) for user in users]
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        for server in servers:
            await asyncio.to_thread(server.sample)
        if progress:
            progress(name, elapsed, recorder)
        await asyncio.sleep(0.5)
    recorder.stop.set()
    # users finish the request they are in: its latency counts, as a user waited for it
    await asyncio.gather(*tasks)
    elapsed = time.monotonic() - started
    if progress:
        progress(name, seconds, recorder)
    return list(recorder.samples), elapsed


async def _warm(
    http: httpx.AsyncClient,
    runtime: str,
    api: str,
    tokens: list[str],
    ins: vu.ApiInputs,
    agents: int,
) -> float:
    """Bring up what a first request pays for (each agent user's MCP server, the planner, the
    models), so the phases measure a service in use; the seconds the agent users took."""
    warm = vu.Recorder()
    session = vu.new_session()
    for question in QUESTIONS:  # every tool the questions use, loaded once
        await vu.ask(http, warm, runtime, question, tokens[0], session)
    rng = random.Random(0)  # noqa: S311 - a repeatable mix, not a secret
    for _, call in vu.api_calls(http, api, tokens[0], ins, rng):
        await call()
    started = time.monotonic()
    await asyncio.gather(
        *(vu.ask(http, warm, runtime, QUESTIONS[0], tokens[i], vu.new_session())
          for i in range(1, agents))
    )  # fmt: skip
    if failed := [s for s in warm.samples if s.error]:
        raise ConfigError(f"the agent failed while warming up: {failed[0].error}")
    return time.monotonic() - started


async def _run(
    runtime: Server,
    api: Server,
    ins: vu.ApiInputs,
    names: list[str],
    password: str,
    *,
    users: int,
    duration_s: float,
    baseline_s: float,
    chat_share: float,
    agent_users: int,
    think_s: float,
    progress: Progress | None,
) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=users + 8, max_keepalive_connections=users + 8)
    timeout = httpx.Timeout(60.0, connect=10.0)
    async with httpx.AsyncClient(limits=limits, timeout=timeout, trust_env=False) as http:
        tokens = await sign_in(http, api.url, names, password)
        chats = max(1, min(users - 1, round(users * chat_share))) if users > 1 else 1
        agent_users = min(agent_users, chats)
        warm_s = await _warm(http, runtime.url, api.url, tokens, ins, agent_users)

        async def alone(recorder: vu.Recorder) -> None:  # the baseline: the whole mix, one user
            session, turn = vu.new_session(), 0
            rng = random.Random(0)  # noqa: S311 - a repeatable mix, not a secret
            calls = vu.api_calls(http, api.url, tokens[0], ins, rng)
            while not recorder.stop.is_set():
                question = QUESTIONS[turn % len(QUESTIONS)]
                await vu.ask(http, recorder, runtime.url, question, tokens[0], session)
                for endpoint, call in calls:
                    await vu.timed(recorder, endpoint, call())
                turn += 1

        def ping(recorder: vu.Recorder) -> Coroutine[Any, Any, None]:
            return vu.health_checker(http, recorder, runtime.url)

        def chatter(i: int) -> User:
            return lambda r: vu.chat_user(
                http, r, runtime.url, QUESTIONS, token=tokens[i % agent_users], offset=i,
                think_s=think_s,
            )  # fmt: skip

        def client(i: int) -> User:
            token = tokens[i % len(tokens)]
            return lambda r: vu.api_client(http, r, api.url, token, ins, seed=i, think_s=think_s)

        crowd = [ping, *map(chatter, range(chats)), *map(client, range(users - chats))]
        servers = [runtime, api]
        base, base_s = await _phase("baseline", baseline_s, [alone, ping], servers, progress)
        load, load_s = await _phase(f"{users} users", duration_s, crowd, servers, progress)

    baseline = endpoint_figures(base, base_s)
    loaded = endpoint_figures(load, load_s)
    for endpoint, figures in loaded.items():
        alone_p95 = baseline.get(endpoint, {}).get("p95_ms")
        figures["baseline_p95_ms"] = alone_p95
        figures["p95_vs_baseline"] = round(figures["p95_ms"] / alone_p95, 2) if alone_p95 else None
    return {
        "users": users,
        "chat_users": chats,
        "api_clients": users - chats,
        "agent_users": agent_users,
        "agent_users_start_s": round(warm_s, 1),
        "duration_s": round(load_s, 1),
        "baseline_s": round(base_s, 1),
        "think_s": think_s,
        "requests": len(load),
        "req_per_s": round(sum(1 for s in load if s.endpoint != vu.PING) / load_s, 2),
        "endpoints": loaded,
        "baseline": baseline,
        "servers": {
            s.kind: {"peak_rss_mb": round(s.peak_rss_mb), "peak_processes": s.peak_processes}
            for s in servers
        },
    }


def bench_load(
    *,
    users: int = 20,
    duration_s: float = 30.0,
    baseline_s: float = 10.0,
    data_dir: Path | None = None,
    chat_share: float = 0.5,
    agent_users: int = 5,
    think_s: float = 0.0,
    api_rate_limits: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Figures of `users` concurrent users on the runtime and the REST API (see the module)."""
    if users < 1 or duration_s <= 0 or baseline_s <= 0:
        raise ConfigError("users, duration and baseline must be positive")
    with demo_data(data_dir) as (state, warehouse):
        ins = api_inputs(warehouse)
        api_users = max(1, users, agent_users)  # chat users sign in as the first agent_users
        names, password = add_api_users(state, api_users)
        env = {
            "ENCORE_DATA_DIR": str(state),
            "ENCORE_WAREHOUSE_PATH": str(warehouse),
            "ENCORE_MODEL": "offline",
            "ENCORE_TRACES": "none",
            "ENCORE_MEMORY": "local",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        if not api_rate_limits:  # the per-user limit is policy, not capacity: lifted by default
            env |= {"ENCORE_API_RATE_PER_S": "100000", "ENCORE_API_RATE_BURST": "100000"}
        with serve("runtime", env, state) as runtime, serve("api", env, state) as api:
            figures = asyncio.run(
                _run(
                    runtime, api, ins, names, password,
                    users=users, duration_s=duration_s, baseline_s=baseline_s,
                    chat_share=chat_share, agent_users=agent_users,
                    think_s=think_s, progress=progress,
                )
            )  # fmt: skip
        figures["api_rate_limits"] = api_rate_limits
        return figures
