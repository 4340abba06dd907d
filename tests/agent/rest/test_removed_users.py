"""A token stops working when its user is removed, and carries the user's current role: the API
checks every request against the user store, not only the token (over loopback HTTP)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent.rest.app import create_app
from agent.rest.config import ApiSettings
from agent.ui.auth import UserStore
from core.settings import Settings
from tests.agent.rest.conftest import PASSWORD, client, login, running


@pytest.fixture
def users(settings: Settings) -> Settings:
    """A data dir with no warehouse (/v1/me reads none) and two local users."""
    store = UserStore(settings)
    store.add("ana", PASSWORD, role="analyst")
    store.add("pat", PASSWORD, role="analyst")
    return settings


@pytest.fixture
def url(users: Settings) -> Iterator[str]:
    with running(create_app(users, ApiSettings())) as base:
        yield base


def test_a_removed_users_token_is_refused_with_a_clear_error(users: Settings, url: str) -> None:
    token, other = login(url, "ana"), login(url, "pat")
    with client(url, token) as http:
        assert http.get("/v1/me").json() == {"user": "ana", "role": "analyst"}
        # removed through the store, as any tool or a hand edit may: no token revocation runs
        assert UserStore(users).remove("ana")
        refused = http.get("/v1/me")
        assert refused.status_code == 401, refused.text
        assert refused.headers["www-authenticate"] == "Bearer"
        assert refused.json()["error"] == "unauthorized"
        assert "'ana' no longer exists" in refused.json()["detail"]
        assert http.get("/v1/query/catalog").status_code == 401  # every endpoint, not only /me
        assert http.post("/v1/auth/revoke").status_code == 401
    with client(url, other) as http:  # another user's token is untouched
        assert http.get("/v1/me").json() == {"user": "pat", "role": "analyst"}
    with client(url) as http:  # and the removed user cannot get a new one
        again = http.post("/v1/token", data={"username": "ana", "password": PASSWORD})
        assert again.status_code == 401


def test_a_role_changed_in_the_store_applies_to_the_next_request(users: Settings, url: str) -> None:
    token = login(url, "pat")
    with client(url, token) as http:
        assert http.get("/v1/me").json()["role"] == "analyst"
        UserStore(users).add("pat", PASSWORD, role="partner")  # the token still says analyst
        assert http.get("/v1/me").json() == {"user": "pat", "role": "partner"}
        UserStore(users).add("pat", PASSWORD, role="analyst")
        assert http.get("/v1/me").json() == {"user": "pat", "role": "analyst"}


def test_the_store_is_read_again_only_after_it_changes(settings: Settings) -> None:
    store = UserStore(settings)
    assert store.user("ana") is None  # no file yet
    UserStore(settings).add("ana", PASSWORD, role="analyst")
    assert store.user("ana") is not None and store.user("ana").role == "analyst"  # type: ignore[union-attr]
    reads = 0
    load = store._load

    def counted() -> dict[str, dict[str, object]]:
        nonlocal reads
        reads += 1
        return load()

    store._load = counted  # type: ignore[method-assign]
    for _ in range(50):
        assert store.user("ana") is not None
    assert reads == 0  # unchanged file: a stat each time, no read
    UserStore(settings).add("ana", PASSWORD, role="partner")  # another process's write
    assert store.user("ana").role == "partner"  # type: ignore[union-attr]
    assert reads == 1
    UserStore(settings).remove("ana")
    assert store.user("ana") is None
