"""The local issuer's secret and tokens, and the token bucket, without a server."""

from __future__ import annotations

import stat
import time

import pytest

from agent.rest.auth import (
    ForbiddenError,
    LocalIssuer,
    Principal,
    UnauthorizedError,
    ensure_api_secret,
)
from agent.rest.config import ApiSettings, api_dir
from agent.rest.limits import RateLimiter
from agent.ui.auth import ensure_auth_secret
from core.settings import Settings


def test_the_secret_is_private_kept_and_not_chainlits(settings: Settings) -> None:
    secret = ensure_api_secret(settings)
    path = api_dir(settings) / "jwt_secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_api_secret(settings) == secret  # a restart keeps tokens valid
    assert ensure_auth_secret(settings) != secret
    assert sorted(p.name for p in path.parent.iterdir()) == ["jwt_secret"]  # no drafts left


def test_tokens_survive_a_restart_and_carry_only_policy_roles(settings: Settings) -> None:
    token = LocalIssuer(settings, ApiSettings()).issue(Principal("ana", "partner"))
    assert LocalIssuer(settings, ApiSettings()).verify(token) == Principal("ana", "partner")
    rogue = LocalIssuer(settings, ApiSettings()).issue(Principal("ana", "superuser"))
    with pytest.raises(ForbiddenError, match="not a query-policy role"):
        LocalIssuer(settings, ApiSettings()).verify(rogue)
    with pytest.raises(UnauthorizedError):
        LocalIssuer(settings, ApiSettings()).verify(token[:-4] + "AAAA")


def test_a_bucket_allows_a_burst_then_the_rate() -> None:
    limiter = RateLimiter(rate_per_s=20, burst=2)
    assert [limiter.acquire("u") for _ in range(2)] == [0.0, 0.0]
    wait = limiter.acquire("u")
    assert 0 < wait <= 0.05 and limiter.wait("u") > 0
    assert limiter.acquire("other") == 0.0  # buckets are per key
    time.sleep(wait + 0.01)
    assert limiter.acquire("u") == 0.0
