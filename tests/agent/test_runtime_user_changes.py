"""A runtime token stops working when its user is removed and carries the user's current role: the
AgentCore runtime checks every invocation against the user store, as the REST API does.

A real runtime subprocess on loopback (real MCP servers, a scripted model; a question about sales
calls semantic_query, whose audit row says whom and as which role the turn ran), tokens from the
local issuer, users removed or changed through the store as any tool or a hand edit may (no token
revocation runs).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from agent.ui.auth import UserStore
from core.settings import Settings
from tests.agent.test_runtime import SESSION_HEADER
from tests.agent.test_runtime_identity import PASSWORD, Served, _audited, serving


@pytest.fixture(scope="module")
def served(small_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("runtime-user-changes")
    settings = Settings(data_dir=data_dir, warehouse_path=small_warehouse.warehouse_file)
    store = UserStore(settings)
    for name in ("ana", "pat", "rosa"):
        store.add(name, PASSWORD, role="analyst")
    with serving(settings) as running:
        yield running


def _stream(served: Served, token: str) -> httpx.Response:
    return httpx.post(
        f"{served.url}/invocations",
        json={"prompt": "genre sales please", "stream": True},
        headers={SESSION_HEADER: f"changes-{uuid.uuid4().hex}", "Authorization": f"Bearer {token}"},
        timeout=90,
        trust_env=False,
    )


def test_a_removed_users_token_is_refused_with_the_reason(served: Served) -> None:
    token, other = served.token("ana"), served.token("rosa")
    works = served.ask("what do you remember about me?", token)
    assert works.status_code == 200, works.text
    assert "USER: ana" in works.json()["answer"]
    sales = served.ask("genre sales please", token)
    assert sales.json()["answer"] == "Sales are in.", sales.text
    before = len(_audited(served.settings))

    assert UserStore(served.settings).remove("ana")
    for refused in (served.ask("genre sales please", token), _stream(served, token)):
        assert refused.status_code == 401, refused.text
        assert refused.headers["www-authenticate"] == "Bearer"
        assert "'ana' no longer exists" in refused.json()["error"]
    assert _audited(served.settings)[before:] == []  # no turn ran: no query as ana

    still = served.ask("what do you remember about me?", other)  # another user's token works
    assert still.status_code == 200, still.text
    assert "USER: rosa" in still.json()["answer"]


def test_a_role_changed_in_the_store_applies_to_the_next_turn(served: Served) -> None:
    token = served.token("pat")  # issued as analyst
    store = UserStore(served.settings)
    first = served.ask("genre sales please", token)
    assert first.json()["answer"] == "Sales are in.", first.text
    assert _audited(served.settings)[-1] == ("pat", "analyst")
    before = len(_audited(served.settings))
    store.add("pat", PASSWORD, role="partner")  # the token still says analyst
    second = served.ask("genre sales please", token)
    assert second.json()["answer"] == "Sales are in.", second.text
    store.add("pat", PASSWORD, role="analyst")  # and back: the role is read on every call
    third = served.ask("genre sales please", token)
    assert third.json()["answer"] == "Sales are in.", third.text
    assert _audited(served.settings)[before:] == [("pat", "partner"), ("pat", "analyst")]
