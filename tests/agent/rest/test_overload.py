"""Overload: past `max_in_flight` requests the API answers 503 with Retry-After at once instead of
queueing every caller behind the others; liveness still answers, and freed slots serve again."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from agent.rest.app import create_app
from agent.rest.config import ApiSettings
from core.settings import Settings
from core.warehouse import reading
from tests.agent.rest.conftest import client, login, running


@pytest.fixture(scope="module")
def small_api(api_warehouse: Settings) -> Iterator[tuple[str, str]]:
    """The API serving at most two requests at once, and a token for it."""
    with running(create_app(api_warehouse, ApiSettings(rate_burst=1000, max_in_flight=2))) as url:
        yield url, login(url, "ana")


def _until(check: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the server never got there"
        time.sleep(0.05)


def _held(url: str) -> socket.socket:
    """A request the server has started on and waits for: its body never finishes arriving."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port))
    sock.sendall(
        b"POST /v1/query HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n{"
    )
    return sock


def test_requests_past_the_limit_get_503_with_retry_after(small_api: tuple[str, str]) -> None:
    url, token = small_api
    held = [_held(url), _held(url)]
    try:
        with client(url, token) as http:
            _until(lambda: http.get("/v1/me").status_code == 503)
            refused = http.get("/v1/me")
            assert refused.status_code == 503
            assert refused.headers["Retry-After"] == "1"
            assert refused.json()["error"] == "overloaded"
            assert "retry in 1 s" in refused.json()["detail"]
            # refused before any work, so signing in is refused too; liveness is not
            assert (
                http.post("/v1/token", data={"username": "ana", "password": "x"}).status_code == 503
            )
            assert http.get("/health").status_code == 200
    finally:
        for sock in held:
            sock.close()
    with client(url, token) as http:
        # the held requests end with their connections: their slots serve again
        _until(lambda: http.get("/v1/me").status_code == 200)
        assert http.get("/v1/me").json()["user"] == "ana"


def test_a_burst_of_predictions_is_served_or_refused_never_queued(
    small_api: tuple[str, str], api_warehouse: Settings
) -> None:
    url, token = small_api
    with reading(api_warehouse) as con:
        artist, venue = con.execute(
            "SELECT a.name, v.name FROM concert_performance p JOIN artists a USING (artist_id) "
            "JOIN venues v USING (venue_id) WHERE p.status = 'completed' ORDER BY p.concert_id "
            "LIMIT 1"
        ).fetchall()[0]
    params = {"artist": artist, "venue": venue, "date": "2027-03-12"}
    with client(url, token) as http:
        assert http.get("/v1/predictions/ticket-sales", params=params).status_code == 200  # warm
    start = threading.Barrier(10)
    responses: list[httpx.Response] = []

    def one() -> None:
        with client(url, token) as http:
            start.wait()
            responses.append(http.get("/v1/predictions/ticket-sales", params=params))

    threads = [threading.Thread(target=one) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    statuses = sorted(r.status_code for r in responses)
    assert len(statuses) == 10 and set(statuses) == {200, 503}, statuses
    assert statuses.count(200) >= 2  # the limit's two slots did serve
    for refused in (r for r in responses if r.status_code == 503):
        assert refused.headers["Retry-After"] == "1" and refused.json()["error"] == "overloaded"
