"""What keeps one caller from hurting the others: per-key token buckets shared by the processes on
the host, a request size limit, a cap on requests in flight, and the outermost middleware that logs
every request with its user and never lets a traceback out."""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any, Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.rest.shared_db import SharedDb

log = logging.getLogger(__name__)
access_log = logging.getLogger("agent.rest.access")


_BUCKETS_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS buckets (
    scope   TEXT NOT NULL,     -- which limit: user, login, rejected
    key     TEXT NOT NULL,     -- whose bucket: a user, an address
    tokens  REAL NOT NULL,
    updated REAL NOT NULL,     -- wall clock: the processes share it, not a monotonic clock
    granted INTEGER NOT NULL,  -- whether the last acquire spent a token
    PRIMARY KEY (scope, key)
) WITHOUT ROWID;
"""

# refill, spend one token if there is one, and say which: one statement, so atomic across processes
# (SET expressions all read the row as it was before the update)
_ACQUIRE: Final = """
INSERT INTO buckets (scope, key, tokens, updated, granted)
VALUES (:scope, :key, :burst - 1, :now, 1)
ON CONFLICT (scope, key) DO UPDATE SET
    tokens = min(:burst, tokens + max(0, :now - updated) * :rate)
             - (min(:burst, tokens + max(0, :now - updated) * :rate) >= 1),
    granted = min(:burst, tokens + max(0, :now - updated) * :rate) >= 1,
    updated = max(updated, :now)
RETURNING tokens, granted
"""
_PRUNE_EVERY_S: Final = 60.0


def open_buckets(path: Path) -> SharedDb:
    """The token buckets that every API process on the host shares (`api/ratelimits.sqlite`)."""
    return SharedDb(path, _BUCKETS_SCHEMA)


class RateLimiter:
    """A token bucket per key (a user; address+name for logins): `burst` at once, `rate`/s after.

    The buckets live in a SQLite file shared by every process serving the API on this host, so
    N uvicorn workers still give a user one limit, not N.
    """

    def __init__(self, buckets: SharedDb, scope: str, rate_per_s: float, burst: int) -> None:
        self.db = buckets
        self.scope = scope
        self.rate = rate_per_s
        self.burst = float(burst)
        self._pruned_at = 0.0

    def wait(self, key: str) -> float:
        """Seconds until `key` has a token again (0: it has one now); spends nothing."""
        now = time.time()
        with self.db.connection() as con:
            row = con.execute(
                "SELECT tokens, updated FROM buckets WHERE scope = ? AND key = ?", (self.scope, key)
            ).fetchone()
        if row is None:
            return 0.0
        tokens = min(self.burst, row[0] + max(0.0, now - row[1]) * self.rate)
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate

    def acquire(self, key: str) -> float:
        """0 when a request may go ahead (a token is spent), else seconds until one is free."""
        now = time.time()
        params = {"scope": self.scope, "key": key, "burst": self.burst, "rate": self.rate,
                  "now": now}  # fmt: skip
        with self.db.connection() as con:
            tokens, granted = con.execute(_ACQUIRE, params).fetchone()
            if now - self._pruned_at > _PRUNE_EVERY_S:
                self._prune(con, now)
        return 0.0 if granted else (1 - tokens) / self.rate

    def _prune(self, con: sqlite3.Connection, now: float) -> None:
        # a bucket that has refilled holds no state worth keeping
        self._pruned_at = now
        full_after = self.burst / self.rate
        con.execute(
            "DELETE FROM buckets WHERE scope = ? AND updated < ?", (self.scope, now - full_after)
        )


def retry_after(seconds: float) -> str:
    """A Retry-After header value: whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(seconds)))


async def _send_json(
    send: Send, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> None:
    payload = json.dumps(body).encode()
    extra = [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *extra,
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


OVERLOAD_RETRY_AFTER_S: Final = 1
"""What a refused request is told to wait: requests here take tens to hundreds of milliseconds."""


class ConcurrencyLimitMiddleware:
    """503 with Retry-After when `max_in_flight` requests are already being served.

    Past the limit a request would wait its turn on the thread pool behind every other one, and
    a burst makes every caller slow; refused at once, clients back off and the ones in flight
    finish at their usual speed. `exempt` paths (liveness) are always served. The count is per
    process (each uvicorn worker has its own). uvicorn's `limit_concurrency` also answers 503,
    but as plain text without Retry-After, and it counts open connections, not requests.
    """

    def __init__(self, app: ASGIApp, max_in_flight: int, exempt: frozenset[str]) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.exempt = exempt
        # read and changed only on the event loop's thread: no lock needed
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            # no log line of its own: the access log records the 503, and overload is no time
            # to write more
            await _send_json(
                send,
                503,
                {
                    "error": "overloaded",
                    "detail": f"the server is busy with {self.in_flight} requests; retry in "
                    f"{OVERLOAD_RETRY_AFTER_S} s",
                },
                {"Retry-After": str(OVERLOAD_RETRY_AFTER_S)},
            )
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


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
