"""Resilience primitives for API connectors: clock, token bucket, circuit breaker, retry policy.

The limiter and breaker read time from a `Clock`, so tests drive it by hand and nothing sleeps.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC
from typing import Literal, Protocol


class Clock(Protocol):
    """Time as the client sees it; tests pass a fake one so nothing really sleeps."""

    def monotonic(self) -> float: ...

    def time(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class TokenBucket:
    """Allow `rate` requests per second on average and up to `burst` back to back."""

    def __init__(self, rate: float, burst: int = 1, clock: Clock | None = None) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"rate must be > 0 and burst >= 1; got rate={rate}, burst={burst}")
        self.rate = rate
        self.burst = burst
        self._clock = clock or SystemClock()
        self._tokens = float(burst)
        self._updated = self._clock.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping until it is available; returns the seconds waited."""
        with self._lock:
            now = self._clock.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            # Reserve the token even if it is not there yet (tokens go negative), so concurrent
            # callers queue up behind each other instead of all waking at the same instant.
            self._tokens -= 1
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate
        if wait > 0:
            self._clock.sleep(wait)
        return wait


BreakerState = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    """Stop calling a source after `threshold` consecutive failures; probe again after `reset_s`."""

    def __init__(self, threshold: int = 5, reset_s: float = 30.0, clock: Clock | None = None):
        self.threshold = threshold
        self.reset_s = reset_s
        self._clock = clock or SystemClock()
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False
        self._lock = threading.Lock()

    @property
    def state(self) -> BreakerState:
        with self._lock:
            return self._state()

    def _state(self) -> BreakerState:
        if self._opened_at is None:
            return "closed"
        if self._clock.monotonic() - self._opened_at >= self.reset_s:
            return "half_open"
        return "open"

    def allow(self) -> float | None:
        """Return None if a call may go ahead, else the seconds until the breaker half-opens."""
        with self._lock:
            state = self._state()
            if state == "closed":
                return None
            if state == "half_open" and not self._probing:
                self._probing = True  # exactly one trial call; the others keep failing fast
                return None
            assert self._opened_at is not None
            return max(0.0, self._opened_at + self.reset_s - self._clock.monotonic())

    def release(self) -> None:
        """Give back a half-open trial slot whose call ended without a verdict."""
        with self._lock:
            self._probing = False

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._probing = False

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._probing or self._failures >= self.threshold:
                self._opened_at = self._clock.monotonic()
            self._probing = False


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry transient failures."""

    max_attempts: int = 4
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    retry_after_max_s: float = 120.0
    """A `Retry-After` longer than this fails the call now rather than stalling the pipeline."""

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**(attempt-1))]."""
        ceiling = min(self.backoff_max_s, self.backoff_base_s * 2 ** (attempt - 1))
        return rng.uniform(0, ceiling)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a naive one came without the zone
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)
