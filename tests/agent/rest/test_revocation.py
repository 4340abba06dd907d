"""Signing out and revoking tokens: over loopback HTTP, across a restart, pruned when stale."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from agent.rest.app import create_app
from agent.rest.auth import LocalIssuer, Principal
from agent.rest.config import ApiSettings, api_dir
from agent.rest.revocation import MAX_TOKEN_LIFETIME_S, Denylist
from agent.ui.auth import UserStore
from core.settings import Settings
from tests.agent.rest.conftest import PASSWORD, client, login, running


@pytest.fixture
def users(settings: Settings) -> Settings:
    """A data dir with no warehouse (none of these endpoints reads one) and two local users."""
    store = UserStore(settings)
    store.add("ana", PASSWORD, role="analyst")
    store.add("root", PASSWORD, role="admin")
    return settings


@pytest.fixture
def url(users: Settings) -> Iterator[str]:
    with running(create_app(users, ApiSettings())) as base:
        yield base


def test_a_signed_out_token_is_refused_and_others_still_work(url: str) -> None:
    first, second = login(url, "ana"), login(url, "ana")
    with client(url, first) as http:
        revoked = http.post("/v1/auth/revoke")
        assert revoked.status_code == 200, revoked.text
        assert revoked.json()["user"] == "ana" and revoked.json()["token_id"]
        refused = http.get("/v1/me")
        assert refused.status_code == 401
        assert (
            "revoked" in refused.json()["detail"] and "POST /v1/token" in refused.json()["detail"]
        )
    with client(url, second) as http:  # the same user's other sign-in is untouched
        assert http.get("/v1/me").json() == {"user": "ana", "role": "analyst"}


def test_an_admin_revokes_every_token_of_a_user(url: str) -> None:
    old = [login(url, "ana"), login(url, "ana")]
    with client(url, login(url, "ana")) as analyst:
        denied = analyst.post("/v1/users/root/revoke-tokens")
        assert denied.status_code == 403 and "only admins" in denied.json()["detail"]
    with client(url, login(url, "root")) as admin:
        done = admin.post("/v1/users/ana/revoke-tokens")
        assert done.status_code == 200, done.text
        assert done.json()["user"] == "ana"
        unknown = admin.post("/v1/users/nobody/revoke-tokens")
        assert unknown.status_code == 404 and "no local user named 'nobody'" in unknown.text
        assert admin.get("/v1/me").status_code == 200  # the admin's own token is untouched
    for token in old:
        with client(url, token) as http:
            assert http.get("/v1/me").status_code == 401
    fresh = login(url, "ana")  # a sign-in right after the revocation works
    with client(url, fresh) as http:
        assert http.get("/v1/me").status_code == 200


def test_revocations_survive_a_restart(users: Settings) -> None:
    with running(create_app(users, ApiSettings())) as url:
        token = login(url, "ana")
        with client(url, token) as http:
            assert http.post("/v1/auth/revoke").status_code == 200
    with running(create_app(users, ApiSettings())) as url, client(url, token) as http:
        assert http.get("/v1/me").status_code == 401


def test_expired_revocations_are_pruned(settings: Settings) -> None:
    denylist = Denylist(api_dir(settings) / "revoked.sqlite")
    now = time.time()
    long_ago = now - MAX_TOKEN_LIFETIME_S - 3600
    denylist.revoke_user("pat", now=long_ago)  # written back then: kept until its tokens expire
    assert denylist.is_revoked(None, "pat", issued_at=long_ago - 60)
    denylist.revoke_token("old-jti", "ana", expires_at=now - 3600)  # expired: nothing to keep
    assert denylist.entries() == 0
    denylist.revoke_token("new-jti", "ana", expires_at=now + 900)
    assert denylist.entries() == 1
    assert denylist.is_revoked("new-jti", "ana", issued_at=now)
    assert not denylist.is_revoked("other-jti", "ana", issued_at=now)


def test_a_token_without_jti_is_refused(settings: Settings) -> None:
    import jwt

    from agent.rest.auth import AUDIENCE, ISSUER, UnauthorizedError, ensure_api_secret

    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "ana", "role": "analyst", "iat": now,
              "exp": now + 60}  # fmt: skip
    token = jwt.encode(claims, ensure_api_secret(settings), algorithm="HS256")
    with pytest.raises(UnauthorizedError, match="jti"):
        LocalIssuer(settings, ApiSettings()).verify(token)
    issued = LocalIssuer(settings, ApiSettings()).verify(
        LocalIssuer(settings, ApiSettings()).issue(Principal("ana", "analyst"))
    )
    assert issued.token_id and issued.issued_at <= time.time() < issued.expires_at
