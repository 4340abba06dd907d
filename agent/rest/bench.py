"""Latency of the API against the same tool call in-process: `python -m agent.rest.bench`.

Serves the app with uvicorn on a free loopback port in a thread, signs a token in-process (no
user is created), and times GET /v1/venues/rankings and POST /v1/query over HTTP next to
venue_ranking and semantic_query called directly, plus GET /v1/me (token check and HTTP, no
tool). Then the cost each request pays for the state the API processes share: one rate-limit
acquire and one revocation check on the SQLite files, alone and with a second process spending
tokens on the same file at full speed. Prints JSON: p50/p95 in ms per path, in µs per check.
"""

from __future__ import annotations

import json
import multiprocessing
import secrets
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from agent.rest.app import create_app
from agent.rest.auth import LocalIssuer, Principal
from agent.rest.config import ApiSettings
from agent.rest.limits import RateLimiter, open_buckets
from agent.rest.revocation import Denylist
from agent.ui.auth import UserStore
from core.settings import Settings
from core.warehouse import release_readers, share_readers
from tools.context import ToolContext
from tools.insights.ranking import venue_ranking
from tools.query import semantic_query

QUERY: dict[str, Any] = {"measures": ["tickets_sold", "gross_revenue"], "dimensions": ["genre"]}


def _figures(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
    }


def _time(calls: dict[str, Callable[[], object]], rounds: int) -> dict[str, dict[str, float]]:
    """p50/p95 of each call; the calls take turns every round so load changes hit all alike."""
    for call in calls.values():
        call()  # warm: models loaded, caches filled
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            samples[name].append((time.perf_counter() - started) * 1000)
    return {name: _figures(values) for name, values in samples.items()}


BENCH_USER = "encore-bench"
"""The user the API bench signs its token for, added to the store for the run if missing."""


def bench_api(settings: Settings, rounds: int = 200) -> dict[str, Any]:
    """p50/p95 of two endpoints over loopback HTTP and of the same tools in-process."""
    share_readers()  # as `encore serve api` does: one open warehouse between requests
    api = ApiSettings(rate_burst=rounds * 10, rate_per_s=1000.0)
    app = create_app(settings, api)
    users = UserStore(settings)
    # the API takes a token's user from the store: the bench's own user exists for the run only
    added = users.user(BENCH_USER) is None
    if added:
        users.add(BENCH_USER, secrets.token_urlsafe(16), role="analyst")
    token = LocalIssuer(settings, api).issue(Principal(BENCH_USER, "analyst"))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    app.state.runtime.warmup.wait()  # the start's forecaster warm-up would share the timed CPU
    ctx = ToolContext(settings=settings, user=BENCH_USER, role="analyst")
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {token}"},
            trust_env=False,
        ) as http:

            def ranking_http() -> None:
                http.get("/v1/venues/rankings", params={"limit": 10}).raise_for_status()

            def query_http() -> None:
                http.post("/v1/query", json=QUERY).raise_for_status()

            calls: dict[str, Callable[[], object]] = {
                "me_http": lambda: http.get("/v1/me").raise_for_status(),  # auth + HTTP only
                "rankings_http": ranking_http,
                "rankings_in_process": lambda: venue_ranking(ctx, limit=10),
                "query_http": query_http,
                "query_in_process": lambda: semantic_query(ctx, **QUERY),
            }
            return {"rounds": rounds, **_time(calls, rounds)}
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        share_readers(False)
        release_readers(settings)
        if added:
            users.remove(BENCH_USER)


def _spend(path: Path, spending: Any, until: float) -> None:
    """A second API process's load: acquire tokens on the same file as fast as it can."""
    limiter = RateLimiter(open_buckets(path), "user", 1e9, 1_000_000)
    limiter.acquire("someone else")
    spending.set()
    while time.time() < until:
        limiter.acquire("someone else")


def _micro(call: Callable[[], object], calls: int) -> dict[str, float]:
    for _ in range(calls // 10):
        call()  # warm: the WAL file grown, pages cached
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1e6)
    ordered = sorted(samples)
    return {
        "p50_us": round(statistics.median(ordered), 1),
        "p95_us": round(ordered[int(0.95 * (len(ordered) - 1))], 1),
    }


def bench_shared_state(calls: int = 5000) -> dict[str, Any]:
    """µs per rate-limit acquire and per revocation check on fresh files in a temporary folder."""
    with tempfile.TemporaryDirectory() as folder:
        buckets = Path(folder) / "ratelimits.sqlite"
        limiter = RateLimiter(open_buckets(buckets), "user", 1e9, 1_000_000)
        denylist = Denylist(Path(folder) / "revoked.sqlite")
        for n in range(1000):  # a denylist with entries in it, like a busy day's sign-outs
            denylist.revoke_token(f"jti-{n}", f"user-{n % 50}", time.time() + 900)
        now = time.time()
        figures = {
            "calls": calls,
            "rate_limit_acquire": _micro(lambda: limiter.acquire("bench"), calls),
            "revocation_check": _micro(lambda: denylist.is_revoked("jti-x", "bench", now), calls),
        }
        spawn = multiprocessing.get_context("spawn")
        spending = spawn.Event()
        other = spawn.Process(target=_spend, args=(buckets, spending, time.time() + 300))
        other.start()
        try:
            if not spending.wait(120):
                raise RuntimeError("the second process did not start spending tokens")
            contended = _micro(lambda: limiter.acquire("bench"), calls)
        finally:
            other.terminate()
            other.join()
        figures["rate_limit_acquire_with_a_second_process"] = contended
        return figures


if __name__ == "__main__":
    import sys

    result = {"shared_state": bench_shared_state()}
    if "--state-only" not in sys.argv:
        result = {**bench_api(Settings()), **result}
    print(json.dumps(result, indent=2))
