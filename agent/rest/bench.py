"""Latency of the API against the same tool call in-process: `python -m agent.rest.bench`.

Serves the app with uvicorn on a free loopback port in a thread, signs a token in-process (no
user is created), and times GET /v1/venues/rankings and POST /v1/query over HTTP next to
venue_ranking and semantic_query called directly, plus GET /v1/me (token check and HTTP, no
tool). Prints JSON: p50/p95 in ms per path.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import uvicorn

from agent.rest.app import create_app
from agent.rest.auth import LocalIssuer, Principal
from agent.rest.config import ApiSettings
from core.settings import Settings
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


def bench_api(settings: Settings, rounds: int = 200) -> dict[str, Any]:
    """p50/p95 of two endpoints over loopback HTTP and of the same tools in-process."""
    api = ApiSettings(rate_burst=rounds * 10, rate_per_s=1000.0)
    app = create_app(settings, api)
    token = LocalIssuer(settings, api).issue(Principal("bench", "analyst"))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    ctx = ToolContext(settings=settings, user="bench", role="analyst")
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


if __name__ == "__main__":
    print(json.dumps(bench_api(Settings()), indent=2))
