"""A resilient JSON-over-HTTP client shared by every API connector.

One call goes: circuit breaker → token bucket → request → translate the outcome. Transient failures
(429, 5xx, timeouts, connection errors, truncated or invalid bodies) are retried with exponential
backoff and full jitter, honouring `Retry-After`. Every failure reaches the caller as one
`SourceError` whose `detail` carries `reason` (a `FailureReason`), `source`, `url` (secrets
redacted), `status` and `attempts`.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlencode

import httpx

from core.errors import SourceError
from pipelines.sources.base import RawPayload
from pipelines.sources.resilience import (
    CircuitBreaker,
    Clock,
    RetryPolicy,
    SystemClock,
    TokenBucket,
    parse_retry_after,
)

logger = logging.getLogger(__name__)

FailureReason = Literal[
    "timeout",
    "connection",
    "invalid_body",
    "rate_limited",
    "server_error",
    "not_found",
    "unauthorized",
    "client_error",
    "circuit_open",
]
_RETRYABLE: frozenset[FailureReason] = frozenset(
    {"timeout", "connection", "invalid_body", "rate_limited", "server_error"}
)
# A 429 means the service is up and pacing us, so it does not count towards opening the breaker.
_BREAKER_FAILURES = _RETRYABLE - {"rate_limited"}
SECRET_PARAMS: frozenset[str] = frozenset(
    {"apikey", "api_key", "key", "token", "access_token", "client_secret"}
)
REDACTED = "***"


@dataclass(frozen=True)
class _Call:
    method: str
    path: str
    url: str
    """With secrets redacted."""
    started: float


@dataclass
class _Failure:
    # Carries text, not the httpx exception: that holds the request URL, API key included, and
    # chaining it (`raise ... from exc`) would hand the key to any error reporter.

    reason: FailureReason
    message: str
    status: int | None = None
    retry_after: float | None = None


@dataclass
class HttpClient:
    """Rate-limited, retrying, circuit-broken JSON client for one source."""

    source: str
    base_url: str
    timeout_s: float = 10.0
    params: Mapping[str, str] = field(default_factory=dict)
    """Query parameters sent with every request (e.g. an API key)."""
    headers: Mapping[str, str] = field(default_factory=dict)
    secrets: Iterable[str] = ()
    """Values that must never appear in errors or logs (API keys, client secrets)."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    rate_per_s: float = 5.0
    burst: int = 5
    breaker_threshold: int = 5
    breaker_reset_s: float = 30.0
    clock: Clock = field(default_factory=SystemClock)
    rng: random.Random = field(default_factory=random.Random)
    auth: httpx.Auth | None = None
    auth_hint: str = ""
    """Appended to 401/403 errors: what the caller should change (e.g. which setting)."""
    transport: httpx.BaseTransport | None = None
    trust_env: bool = True

    def __post_init__(self) -> None:
        self._secrets = tuple(sorted({s for s in self.secrets if s}, key=len, reverse=True))
        register_secrets(self._secrets)
        self.limiter = TokenBucket(self.rate_per_s, self.burst, self.clock)
        self.breaker = CircuitBreaker(self.breaker_threshold, self.breaker_reset_s, self.clock)
        self._client = httpx.Client(
            timeout=httpx.Timeout(self.timeout_s),
            headers=dict(self.headers),
            auth=self.auth,
            transport=self.transport,
            trust_env=self.trust_env,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> RawPayload:
        """GET `path` (relative to `base_url`) and return the decoded JSON body."""
        return self.request("GET", path, params=params)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
    ) -> RawPayload:
        """Send one logical request, retrying transient failures; raise `SourceError` on failure."""
        url = f"{self.base_url.rstrip('/')}/{path.lstrip('/')}" if path else self.base_url
        query = {**self.params, **{k: v for k, v in (params or {}).items() if v is not None}}
        call = _Call(method, self.redact(path), self.redact_url(url, query), self.clock.monotonic())
        attempt = 0
        while True:
            attempt += 1
            wait = self.breaker.allow()
            if wait is not None:
                message = f"circuit open after repeated failures; next try allowed in {wait:.1f}s"
                raise self._error(_Failure("circuit_open", message), call, attempt - 1)
            self.limiter.acquire()
            try:
                outcome = self._attempt(method, url, query, data, auth)
            except BaseException:
                # e.g. a token fetch inside `auth` failed: that says nothing about this service
                self.breaker.release()
                raise
            if not isinstance(outcome, _Failure):
                self.breaker.record_success()
                return self._payload(call, attempt, *outcome)
            if outcome.reason in _BREAKER_FAILURES:
                self.breaker.record_failure()
            else:
                self.breaker.record_success()  # the service answered sensibly, so it is up
            delay = outcome.retry_after
            if delay is None:
                delay = self.retry.backoff(attempt, self.rng)
            if (
                outcome.reason not in _RETRYABLE
                or attempt >= self.retry.max_attempts
                or delay > self.retry.retry_after_max_s
            ):
                raise self._error(outcome, call, attempt)
            logger.warning(
                "%s %s %s: %s (attempt %d/%d); retrying in %.2fs",
                self.source, method, call.path, outcome.message, attempt,
                self.retry.max_attempts, delay,
            )  # fmt: skip
            self.clock.sleep(delay)

    def _payload(self, call: _Call, attempts: int, status: int, body: Any) -> RawPayload:
        elapsed = self.clock.monotonic() - call.started
        logger.info(
            "%s %s %s -> %d in %d attempt(s), %.3fs",
            self.source, call.method, call.path, status, attempts, elapsed,
        )  # fmt: skip
        fetched_at = datetime.fromtimestamp(self.clock.time(), UTC)
        return RawPayload(
            self.source, call.method, call.url, status, body, fetched_at, attempts, elapsed
        )

    def _attempt(
        self,
        method: str,
        url: str,
        query: Mapping[str, Any],
        data: Mapping[str, str] | None,
        auth: httpx.Auth | None,
    ) -> tuple[int, Any] | _Failure:
        try:
            response = self._client.request(
                method, url, params=dict(query), data=data, auth=auth or httpx.USE_CLIENT_DEFAULT
            )
        except httpx.TimeoutException as exc:
            return _Failure(
                "timeout", f"no response within {self.timeout_s}s ({type(exc).__name__})"
            )
        except httpx.TransportError as exc:
            # RemoteProtocolError lands here too: the connection closed before the whole body came.
            return _Failure("connection", self.redact(f"{type(exc).__name__}: {exc}"))
        status = response.status_code
        if status == 429 or status >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), self.clock.time())
            reason: FailureReason = "rate_limited" if status == 429 else "server_error"
            return _Failure(reason, f"HTTP {status}", status, retry_after)
        if status >= 400:
            return self._client_failure(status, response.text)
        if status == 204 or not response.content:
            return status, None
        try:
            return status, response.json()
        except ValueError as exc:
            return _Failure(
                "invalid_body", f"HTTP {status} body is not valid JSON ({exc})", status=status
            )

    def _client_failure(self, status: int, text: str) -> _Failure:
        excerpt = self.redact(" ".join(text.split())[:300])
        if status == 404:
            return _Failure("not_found", f"not found (HTTP 404): {excerpt}", status)
        if status in (401, 403):
            hint = f"; {self.auth_hint}" if self.auth_hint else ""
            return _Failure("unauthorized", f"HTTP {status}, credentials refused{hint}", status)
        return _Failure("client_error", f"HTTP {status}: {excerpt}", status)

    def _error(self, failure: _Failure, call: _Call, attempts: int) -> SourceError:
        elapsed = self.clock.monotonic() - call.started
        logger.warning(
            "%s %s %s -> %s (%s) after %d attempt(s), %.3fs",
            self.source, call.method, call.path, failure.status or "-", failure.reason, attempts,
            elapsed,
        )  # fmt: skip
        tried = f" after {attempts} attempt(s)" if failure.reason in _RETRYABLE else ""
        return SourceError(
            self.redact(
                f"{self.source}: {call.method} {call.url} failed{tried}: {failure.message}"
            ),
            reason=failure.reason,
            source=self.source,
            url=call.url,
            status=failure.status,
            attempts=attempts,
            retry_after=failure.retry_after,
        )

    def redact(self, text: str) -> str:
        """Replace every known secret in `text`."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def redact_url(self, url: str, query: Mapping[str, Any]) -> str:
        """The URL with its query string, secret parameters masked."""
        shown = {k: REDACTED if k.lower() in SECRET_PARAMS else v for k, v in query.items()}
        return self.redact(f"{url}?{urlencode(shown, safe=',*')}" if shown else url)


def error_reason(exc: SourceError) -> FailureReason | None:
    """The `FailureReason` a `SourceError` from this module carries."""
    reason: FailureReason | None = exc.detail.get("reason")
    return reason


_known_secrets: frozenset[str] = frozenset()


class _RedactingFilter(logging.Filter):
    """Masks registered secrets in httpx's own log lines, which print full URLs with API keys."""

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = _known_secrets  # one snapshot: another thread may register more meanwhile
        if secrets:
            message = record.getMessage()
            redacted = message
            for secret in secrets:
                redacted = redacted.replace(secret, REDACTED)
            if redacted != message:
                record.msg, record.args = redacted, None
        return True


_FILTER = _RedactingFilter()


def register_secrets(secrets: Iterable[str]) -> None:
    """Make sure `secrets` are masked in third-party HTTP logs too."""
    global _known_secrets
    _known_secrets = _known_secrets | {s for s in secrets if s}
    # httpx logs every request URL at INFO on the "httpx" logger; httpcore never logs URLs.
    httpx_logger = logging.getLogger("httpx")
    if _FILTER not in httpx_logger.filters:
        httpx_logger.addFilter(_FILTER)
