"""The local issuer's secret and tokens, and the token bucket, without a server."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest

from agent.rest.auth import (
    ForbiddenError,
    LocalIssuer,
    Principal,
    UnauthorizedError,
    ensure_api_secret,
)
from agent.rest.config import ApiSettings, api_dir
from agent.rest.limits import RateLimiter, open_buckets
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


def test_a_bucket_allows_a_burst_then_the_rate(tmp_path: Path) -> None:
    limiter = RateLimiter(open_buckets(tmp_path / "buckets.sqlite"), "user", rate_per_s=20, burst=2)
    assert [limiter.acquire("u") for _ in range(2)] == [0.0, 0.0]
    wait = limiter.acquire("u")
    assert 0 < wait <= 0.05 and limiter.wait("u") > 0
    assert limiter.acquire("other") == 0.0  # buckets are per key
    time.sleep(wait + 0.01)
    assert limiter.acquire("u") == 0.0


def test_limiters_on_one_file_share_a_bucket_and_drop_refilled_ones(tmp_path: Path) -> None:
    path = tmp_path / "buckets.sqlite"
    # two processes' limiters (each its own connection), as two uvicorn workers have
    first, second = (RateLimiter(open_buckets(path), "user", 0.01, 3) for _ in range(2))
    spent = [first.acquire("u"), second.acquire("u"), first.acquire("u"), second.acquire("u")]
    assert spent[:3] == [0.0, 0.0, 0.0] and spent[3] > 60  # 3 in all, not 3 each
    logins = RateLimiter(open_buckets(path), "login", 0.01, 3)
    assert logins.acquire("u") == 0.0  # another limit on the same file keeps its own buckets
    fast = RateLimiter(open_buckets(path), "fast", 1000.0, 1)
    fast.acquire("gone")
    time.sleep(0.01)  # refilled: its row holds nothing worth keeping
    fast._pruned_at = 0.0  # prune on the next acquire instead of a minute later
    fast.acquire("kept")
    with fast.db.connection() as con:
        keys = {row[0] for row in con.execute("SELECT key FROM buckets WHERE scope = 'fast'")}
    assert keys == {"kept"}
