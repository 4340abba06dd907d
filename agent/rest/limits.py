"""What keeps one caller from hurting the others: per-key token buckets, a request size limit, and
the outermost middleware that logs every request with its user and never lets a traceback out."""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import uuid
from typing import Any, Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)
access_log = logging.getLogger("agent.rest.access")

_MAX_KEYS: Final = 10_000


class RateLimiter:
    """A token bucket per key (a user; address+name for logins): `burst` at once, `rate`/s after."""

    def __init__(self, rate_per_s: float, burst: int) -> None:
        self.rate = rate_per_s
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill)
        self._lock = threading.Lock()  # sync endpoints run on a thread pool

    def wait(self, key: str) -> float:
        """Seconds until `key` has a token again (0: it has one now); spends nothing."""
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, time.monotonic()))
            tokens = min(self.burst, tokens + (time.monotonic() - last) * self.rate)
            return 0.0 if tokens >= 1 else (1 - tokens) / self.rate

    def acquire(self, key: str) -> float:
        """0 when a request may go ahead (a token is spent), else seconds until one is free."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                self._prune(now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate

    def _prune(self, now: float) -> None:
        # buckets that have refilled hold no state worth keeping; drop them when there are many
        if len(self._buckets) > _MAX_KEYS:
            full_after = self.burst / self.rate
            self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full_after}


def retry_after(seconds: float) -> str:
    """A Retry-After header value: whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(seconds)))


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class _BodyTooLargeError(Exception):
    pass


class BodyLimitMiddleware:
    """413 for bodies over `max_bytes`: by Content-Length up front, or counted while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = {"error": "request too large", "detail": f"bodies up to {self.max_bytes} bytes"}
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await _send_json(send, 413, too_large)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _BodyTooLargeError
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _BodyTooLargeError:
            if not started:
                await _send_json(send, 413, too_large)


class AccessLogMiddleware:
    """One log line per request (method, path, status, ms, user); a 500 JSON for any crash.

    Outermost, so it also answers for exceptions no handler took: the client gets
    {error, detail} with a request id, the traceback goes to the server log under that id.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started_at = time.perf_counter()
        status = 0
        scope.setdefault("state", {})

        async def tracked(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception:
            request_id = uuid.uuid4().hex[:12]
            log.exception("request %s failed: %s %s", request_id, scope["method"], scope["path"])
            if not status:
                status = 500
                await _send_json(
                    send,
                    500,
                    {"error": "internal error", "detail": f"request id {request_id}"},
                )
        finally:
            access_log.info(
                "%s %s %s %.1f ms user=%s",
                scope["method"],
                scope["path"],
                status,
                (time.perf_counter() - started_at) * 1000,
                scope["state"].get("user", "-"),
            )
