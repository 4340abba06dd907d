"""Latency of the API against the same tool call in-process: `python -m agent.rest.bench`.

Serves the app with uvicorn on a free loopback port in a thread, signs a token in-process (no
user is created), and times GET /v1/venues/rankings and POST /v1/query over HTTP next to
venue_ranking and semantic_query called directly. Prints JSON: p50/p95 in ms per path.
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


def _time(call: Callable[[], object], rounds: int) -> dict[str, float]:
    call()  # warm: models loaded, caches filled
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return _figures(samples)


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

            return {
                "rounds": rounds,
                "rankings_http": _time(ranking_http, rounds),
                "rankings_in_process": _time(lambda: venue_ranking(ctx, limit=10), rounds),
                "query_http": _time(query_http, rounds),
                "query_in_process": _time(lambda: semantic_query(ctx, **QUERY), rounds),
            }
    finally:
        server.should_exit = True
        thread.join(timeout=10)


if __name__ == "__main__":
    print(json.dumps(bench_api(Settings()), indent=2))
