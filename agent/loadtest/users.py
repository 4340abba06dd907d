"""Virtual users: chat users asking the agent through `/invocations`, API clients calling the
REST insights with their bearer tokens, and a health checker on `/ping`.

Each request becomes a `Sample`: the endpoint, how long it took and, if it failed, the kind of
failure (an HTTP status, a timeout, a dropped connection, or a 200 whose answer is not right:
no answer, an error in the body, another session's answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

SESSION_HEADER = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"
AGENT = "agent /invocations"
RANKINGS = "api rankings"
FORECAST = "api forecast"
RECOMMEND = "api recommendations"
PING = "runtime /ping"
HEALTHY = frozenset({"Healthy", "HealthyBusy"})


@dataclass
class Sample:
    endpoint: str
    ms: float
    error: str | None = None


@dataclass
class Recorder:
    """The samples of one phase; `stop` ends its users."""

    samples: list[Sample] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    on_sample: Callable[[Sample], None] | None = None

    def add(self, sample: Sample) -> None:
        self.samples.append(sample)
        if self.on_sample:
            self.on_sample(sample)


@dataclass(frozen=True)
class ApiInputs:
    """Real names from the warehouse, so forecasts and recommendations do real work."""

    artists: tuple[str, ...]
    venues: tuple[str, ...]
    genres: tuple[str, ...]
    cities: tuple[str, ...]
    future_date: str


def http_error(exc: httpx.HTTPError) -> str:
    """The kind of a transport failure."""
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        return "connect refused"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return "connection dropped"
    return type(exc).__name__


def status_error(response: httpx.Response) -> str | None:
    if response.status_code < 400:
        return None
    kind = f"HTTP {response.status_code}"
    if response.status_code in (429, 503) and "retry-after" not in response.headers:
        kind += " without Retry-After"
    return kind


async def timed(
    recorder: Recorder,
    endpoint: str,
    request: Awaitable[httpx.Response],
    check: Callable[[httpx.Response], str | None] = status_error,
) -> httpx.Response | None:
    """Send `request`, record its latency and failure kind; the response if one came back."""
    started = time.perf_counter()
    response: httpx.Response | None = None
    try:
        response = await request
        error = check(response)
    except httpx.HTTPError as exc:
        error = http_error(exc)
    recorder.add(Sample(endpoint, (time.perf_counter() - started) * 1000, error))
    return response


def answer_error(session: str) -> Callable[[httpx.Response], str | None]:
    """What makes an agent answer wrong for a user: not 200, an error, no answer, another
    session's answer, or a tool that failed."""

    def check(response: httpx.Response) -> str | None:
        if failed := status_error(response):
            return failed
        try:
            body = response.json()
        except ValueError:
            return "answer not JSON"
        if not isinstance(body, dict) or body.get("error"):
            return "error in answer"
        if not str(body.get("answer") or "").strip():
            return "empty answer"
        if body.get("session") != session:
            return "another session's answer"
        if any(call.get("error") for call in body.get("tool_calls") or []):
            return "tool error in answer"
        return None

    return check


async def _pause(recorder: Recorder, response: httpx.Response | None, think_s: float) -> None:
    """Think time, or what Retry-After asks for after a 429/503 (a polite client waits)."""
    wait = think_s
    if response is not None and response.status_code in (429, 503):
        try:
            wait = max(wait, float(response.headers.get("retry-after", "1")))
        except ValueError:
            wait = max(wait, 1.0)
    if wait > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(recorder.stop.wait(), wait)


def new_session() -> str:
    """A runtime session id (AgentCore wants at least 33 characters)."""
    return f"load-{uuid.uuid4().hex}"


async def ask(
    http: httpx.AsyncClient, recorder: Recorder, url: str, question: str, token: str, session: str
) -> httpx.Response | None:
    """One question to the runtime as the user `token` signs in (the runtime takes the user
    from the verified token, never from the body)."""
    request = http.post(
        f"{url}/invocations",
        json={"prompt": question},
        headers={SESSION_HEADER: session, "Authorization": f"Bearer {token}"},
    )
    return await timed(recorder, AGENT, request, answer_error(session))


async def chat_user(
    http: httpx.AsyncClient,
    recorder: Recorder,
    url: str,
    questions: tuple[str, ...],
    *,
    token: str,
    offset: int,
    think_s: float = 0.0,
) -> None:
    """A user (signed in with `token`) in one conversation, asking the questions in turn from
    `offset`."""
    session = new_session()
    turn = offset
    while not recorder.stop.is_set():
        response = await ask(http, recorder, url, questions[turn % len(questions)], token, session)
        turn += 1
        await _pause(recorder, response, think_s)


def api_calls(
    http: httpx.AsyncClient, url: str, token: str, inputs: ApiInputs, rng: random.Random
) -> list[tuple[str, Callable[[], Awaitable[httpx.Response]]]]:
    """One call of each REST insight, with parameters drawn from `inputs`."""
    auth = {"Authorization": f"Bearer {token}"}

    def rankings() -> Awaitable[httpx.Response]:
        params: dict[str, Any] = {"limit": 10, "genre": rng.choice(inputs.genres)}
        return http.get(f"{url}/v1/venues/rankings", params=params, headers=auth)

    def forecast() -> Awaitable[httpx.Response]:
        params = {
            "artist": rng.choice(inputs.artists),
            "venue": rng.choice(inputs.venues),
            "date": inputs.future_date,
        }
        return http.get(f"{url}/v1/predictions/ticket-sales", params=params, headers=auth)

    def recommendations() -> Awaitable[httpx.Response]:
        params = {"genres": rng.choice(inputs.genres), "city": rng.choice(inputs.cities)}
        return http.get(f"{url}/v1/recommendations/concerts", params=params, headers=auth)

    return [(RANKINGS, rankings), (FORECAST, forecast), (RECOMMEND, recommendations)]


async def api_client(
    http: httpx.AsyncClient,
    recorder: Recorder,
    url: str,
    token: str,
    inputs: ApiInputs,
    *,
    seed: int,
    think_s: float = 0.0,
) -> None:
    """A client of the REST API calling rankings, forecast and recommendations in turn."""
    rng = random.Random(seed)  # noqa: S311 - a repeatable mix, not a secret
    calls = api_calls(http, url, token, inputs, rng)
    turn = seed
    while not recorder.stop.is_set():
        endpoint, call = calls[turn % len(calls)]
        response = await timed(recorder, endpoint, call())
        turn += 1
        await _pause(recorder, response, think_s)


async def health_checker(
    http: httpx.AsyncClient, recorder: Recorder, url: str, every_s: float = 0.5
) -> None:
    """What AgentCore does: GET /ping; an answer other than Healthy/HealthyBusy is a failure."""

    def check(response: httpx.Response) -> str | None:
        if failed := status_error(response):
            return failed
        status = response.json().get("status")
        return None if status in HEALTHY else f"status {status}"

    while not recorder.stop.is_set():
        await timed(recorder, PING, http.get(f"{url}/ping", timeout=10), check)
        await _pause(recorder, None, every_s)
