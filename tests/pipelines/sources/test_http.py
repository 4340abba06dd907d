"""The resilient client against a real loopback server: retries, limits, breaker, redaction."""

from __future__ import annotations

import logging
import random
import socket
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from core.errors import SourceError
from pipelines.sources.http import HttpClient, error_reason
from pipelines.sources.resilience import (
    CircuitBreaker,
    RetryPolicy,
    TokenBucket,
    parse_retry_after,
)
from tests.pipelines.sources.conftest import TM_KEY, FakeClock, ReplayServer, Reply, nock

VENUE_PATH = "/discovery/v2/venues/KovZpZAEA76A"


def make_client(server: ReplayServer, clock: FakeClock, **options: Any) -> HttpClient:
    settings: dict[str, Any] = {
        "source": "ticketmaster",
        "base_url": f"{server.url}/discovery/v2",
        "params": {"apikey": TM_KEY},
        "secrets": (TM_KEY,),
        "clock": clock,
        "rng": random.Random(7),
        "rate_per_s": 1000.0,
        "burst": 1000,
        "retry": RetryPolicy(max_attempts=4, backoff_base_s=0.5),
        "timeout_s": 2.0,
        "trust_env": False,
        **options,
    }
    return HttpClient(**settings)


@pytest.fixture
def venue(shared_data: Path) -> Reply:
    return nock(shared_data, "venue_find-200")


def test_success_returns_the_body_and_a_redacted_url(server, clock, venue) -> None:
    server.route(VENUE_PATH, venue)
    with make_client(server, clock) as client:
        payload = client.get("venues/KovZpZAEA76A")
    assert payload.body["name"] == "The Pavilion at Montage Mountain"
    assert (payload.status, payload.attempts) == (200, 1)
    assert payload.url.endswith("/discovery/v2/venues/KovZpZAEA76A?apikey=***")
    assert server.requests()[0].query["apikey"] == TM_KEY  # the real key still went out
    assert clock.sleeps == []


def test_429_waits_for_retry_after_seconds_then_succeeds(server, clock, venue) -> None:
    server.route(VENUE_PATH, Reply(429, {"fault": "rate"}, {"Retry-After": "7"}), venue)
    with make_client(server, clock) as client:
        payload = client.get("venues/KovZpZAEA76A")
    assert payload.attempts == 2
    assert clock.sleeps == [7.0]
    assert payload.body["city"]["name"] == "Scranton"


def test_429_retry_after_as_http_date(server, clock, venue) -> None:
    when = format_datetime(datetime.fromtimestamp(clock.wall + 30, UTC), usegmt=True)
    server.route(VENUE_PATH, Reply(429, headers={"Retry-After": when}), venue)
    with make_client(server, clock) as client:
        assert client.get("venues/KovZpZAEA76A").attempts == 2
    assert clock.sleeps == [30.0]


def test_retry_after_beyond_the_limit_fails_now(server, clock) -> None:
    server.route(VENUE_PATH, Reply(429, headers={"Retry-After": "3600"}))
    with make_client(server, clock) as client, pytest.raises(SourceError) as caught:
        client.get("venues/KovZpZAEA76A")
    assert error_reason(caught.value) == "rate_limited"
    assert caught.value.detail["retry_after"] == 3600.0
    assert clock.sleeps == []


def test_5xx_then_success_backs_off_with_full_jitter(server, clock, venue) -> None:
    server.route(VENUE_PATH, Reply(503), Reply(502), venue)
    with make_client(server, clock) as client:
        payload = client.get("venues/KovZpZAEA76A")
    assert payload.attempts == 3
    assert len(clock.sleeps) == 2
    assert 0 <= clock.sleeps[0] <= 0.5 and 0 <= clock.sleeps[1] <= 1.0


def test_retries_exhausted_raise_a_clear_error(server, clock) -> None:
    server.route(VENUE_PATH, Reply(500, {"error": "boom"}))
    client = make_client(server, clock, retry=RetryPolicy(max_attempts=3))
    with client, pytest.raises(SourceError) as caught:
        client.get("venues/KovZpZAEA76A")
    error = caught.value
    assert error.detail["reason"] == "server_error"
    assert (error.detail["status"], error.detail["attempts"]) == (500, 3)
    assert "after 3 attempt(s): HTTP 500" in str(error)
    assert "venues/KovZpZAEA76A?apikey=***" in str(error)
    assert len(server.requests()) == 3


def test_404_is_not_retried(server, clock, shared_data) -> None:
    server.route("/discovery/v2/events/unknown-id", nock(shared_data, "event_find-404"))
    with make_client(server, clock) as client, pytest.raises(SourceError) as caught:
        client.get("events/unknown-id")
    assert error_reason(caught.value) == "not_found"
    assert "Resource not found with provided criteria" in str(caught.value)
    assert len(server.requests()) == 1


def test_timeout_then_success(server, clock, venue) -> None:
    server.route(VENUE_PATH, Reply(200, {"late": True}, delay_s=1.0), venue)
    with make_client(server, clock, timeout_s=0.2) as client:
        payload = client.get("venues/KovZpZAEA76A")
    assert payload.attempts == 2
    assert payload.body["id"] == "KovZpZAEA76A"


def test_timeouts_exhausted(server, clock) -> None:
    server.route(VENUE_PATH, Reply(200, {"late": True}, delay_s=1.0))
    retry = RetryPolicy(max_attempts=2)
    client = make_client(server, clock, timeout_s=0.15, retry=retry)
    with client, pytest.raises(SourceError) as caught:
        client.get("venues/KovZpZAEA76A")
    assert error_reason(caught.value) == "timeout"
    assert "no response within 0.15s" in str(caught.value)


def test_truncated_body_is_retried(server, clock, venue) -> None:
    server.route(VENUE_PATH, Reply(200, venue.body, truncate=True), venue)
    with make_client(server, clock) as client:
        payload = client.get("venues/KovZpZAEA76A")
    assert payload.attempts == 2
    assert payload.body["name"] == "The Pavilion at Montage Mountain"


def test_invalid_json_is_retried_then_reported(server, clock, venue) -> None:
    half = venue.payload()[:300]  # a body cut short but served with a matching length
    server.route(VENUE_PATH, Reply(200, half), venue)
    with make_client(server, clock) as client:
        assert client.get("venues/KovZpZAEA76A").attempts == 2

    server.route(VENUE_PATH, Reply(200, half))
    client = make_client(server, clock, retry=RetryPolicy(max_attempts=2))
    with client, pytest.raises(SourceError) as caught:
        client.get("venues/KovZpZAEA76A")
    assert error_reason(caught.value) == "invalid_body"
    assert "not valid JSON" in str(caught.value)


def test_connection_refused(clock) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = HttpClient(
        "ticketmaster", f"http://127.0.0.1:{port}", clock=clock, trust_env=False,
        retry=RetryPolicy(max_attempts=2),
    )  # fmt: skip
    with client, pytest.raises(SourceError) as caught:
        client.get("venues")
    assert error_reason(caught.value) == "connection"
    assert caught.value.detail["attempts"] == 2


def test_circuit_breaker_opens_fails_fast_and_recovers(server, clock, venue) -> None:
    server.route(VENUE_PATH, Reply(503))
    client = make_client(
        server, clock, retry=RetryPolicy(max_attempts=1), breaker_threshold=3, breaker_reset_s=30
    )
    with client:
        for _ in range(3):
            with pytest.raises(SourceError, match="HTTP 503"):
                client.get("venues/KovZpZAEA76A")
        assert client.breaker.state == "open"
        with pytest.raises(SourceError, match="circuit open") as caught:
            client.get("venues/KovZpZAEA76A")
        assert error_reason(caught.value) == "circuit_open"
        assert len(server.requests()) == 3  # failed fast: the source was not called

        clock.advance(30)
        assert client.breaker.state == "half_open"
        with pytest.raises(SourceError, match="HTTP 503"):
            client.get("venues/KovZpZAEA76A")  # the trial call fails: open again
        assert client.breaker.state == "open"

        clock.advance(30)
        server.route(VENUE_PATH, venue)
        assert client.get("venues/KovZpZAEA76A").body["id"] == "KovZpZAEA76A"
        assert client.breaker.state == "closed"


def test_breaker_opening_mid_retry_stops_the_retries(server, clock) -> None:
    server.route(VENUE_PATH, Reply(500))
    c = make_client(server, clock, retry=RetryPolicy(max_attempts=10), breaker_threshold=2)
    with c, pytest.raises(SourceError) as caught:
        c.get("venues/KovZpZAEA76A")
    assert error_reason(caught.value) == "circuit_open"
    assert len(server.requests()) == 2


def test_half_open_allows_a_single_trial() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=1, reset_s=10, clock=clock)
    breaker.record_failure()
    assert breaker.allow() == 10
    clock.advance(10)
    assert breaker.allow() is None
    assert breaker.allow() == 0.0  # a second caller during the trial still fails fast
    breaker.record_success()
    assert breaker.state == "closed"


def test_token_bucket_paces_after_the_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2, burst=2, clock=clock)
    assert [bucket.acquire() for _ in range(5)] == [0.0, 0.0, 0.5, 0.5, 0.5]
    clock.advance(10)  # idle time refills only up to the burst
    assert [bucket.acquire() for _ in range(3)] == [0.0, 0.0, 0.5]


def test_client_is_rate_limited(server, clock, venue) -> None:
    server.route(VENUE_PATH, venue)
    with make_client(server, clock, rate_per_s=1.0, burst=1) as client:
        for _ in range(3):
            client.get("venues/KovZpZAEA76A")
    assert clock.sleeps == [1.0, 1.0]


def test_parse_retry_after() -> None:
    now = 1_767_225_600.0
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after("Thu, 01 Jan 2026 00:01:00 GMT", now) == 60.0
    assert parse_retry_after("Wed, 31 Dec 2025 00:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_api_key_never_appears_in_errors_or_logs(server, clock, venue, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    server.route(VENUE_PATH, venue)
    server.route(
        "/discovery/v2/events", Reply(400, {"errors": [{"detail": f"bad apikey {TM_KEY}"}]})
    )
    server.route("/discovery/v2/attractions", Reply(401))
    server.route("/discovery/v2/classifications", Reply(503))
    errors: list[SourceError] = []
    with make_client(server, clock, retry=RetryPolicy(max_attempts=2), auth_hint="check KEY") as c:
        c.get("venues/KovZpZAEA76A")
        for path in ("events", "attractions", "classifications"):
            with pytest.raises(SourceError) as caught:
                c.get(path, {"keyword": "muse"})
            errors.append(caught.value)
    assert [error_reason(e) for e in errors] == ["client_error", "unauthorized", "server_error"]
    assert "check KEY" in str(errors[1])
    for error in errors:
        assert TM_KEY not in f"{error} {error.detail!r}"
    assert TM_KEY not in caplog.text
    assert "apikey=***" in caplog.text  # httpx's own request log line was there, and masked


def test_each_call_is_logged(server, clock, venue, caplog) -> None:
    caplog.set_level(logging.INFO, logger="pipelines.sources.http")
    server.route(VENUE_PATH, Reply(503), venue)
    with make_client(server, clock) as client:
        client.get("venues/KovZpZAEA76A")
    done = [r for r in caplog.records if r.levelno == logging.INFO and r.name.startswith("pipe")]
    assert len(done) == 1
    assert done[0].args is not None
    source, method, path, status, attempts, _duration = done[0].args  # type: ignore[misc]
    assert (source, method, path, status, attempts) == (
        "ticketmaster", "GET", "venues/KovZpZAEA76A", 200, 2,
    )  # fmt: skip
