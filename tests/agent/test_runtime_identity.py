"""Who an AgentCore invocation acts for: the bearer token's verified user, never the body's claim.

A real runtime subprocess on loopback (real MCP servers, a scripted model that repeats whom its
system prompt is for and what it remembers about them), tokens from the local issuer.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from bedrock_agentcore.runtime import RequestContext

from agent.memory.local import LocalMemory
from agent.rest.auth import LocalIssuer, Principal
from agent.rest.config import ApiSettings, api_dir
from agent.rest.revocation import Denylist
from agent.runtime import Runtime, RuntimeSettings
from agent.ui.auth import UserStore
from core.settings import Settings
from tests.agent.conftest import agent_settings
from tests.agent.test_runtime import SESSION_HEADER, _free_port

PASSWORD = "a long enough password"


@dataclass(frozen=True)
class Served:
    url: str
    settings: Settings
    issuer: LocalIssuer

    def ask(self, prompt: str, token: str | None = None, **body: Any) -> httpx.Response:
        headers = {SESSION_HEADER: f"identity-{uuid.uuid4().hex}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.post(
            f"{self.url}/invocations",
            json={"prompt": prompt, **body},
            headers=headers,
            timeout=90,
            trust_env=False,
        )

    def token(self, name: str) -> str:
        return self.issuer.login(name, PASSWORD)[0]


@contextmanager
def serving(settings: Settings) -> Iterator[Served]:
    """runtime_identity_server as a real subprocess on loopback over `settings`' data dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENCORE_RUNTIME_")}
    env |= {
        "ENCORE_DATA_DIR": str(settings.data_dir),
        "ENCORE_WAREHOUSE_PATH": str(settings.warehouse_file),
        "ENCORE_USER": "local",
        "ENCORE_ROLE": "analyst",
        "ENCORE_AUTH": "local",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.agent.runtime_identity_server", str(port)],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/ping", timeout=1, trust_env=False).status_code == 200:
                break
        except httpx.TransportError:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            time.sleep(0.2)
    try:
        yield Served(url, settings, LocalIssuer(settings, ApiSettings()))
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def served(small_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("runtime-identity")
    settings = Settings(data_dir=data_dir, warehouse_path=small_warehouse.warehouse_file)
    store = UserStore(settings)
    store.add("ana", PASSWORD, role="partner")
    store.add("chijazz", PASSWORD, role="analyst")
    memory = LocalMemory(settings.memory_dir)
    memory.set_preference("chijazz", "genres", ["jazz"])
    memory.set_preference("chijazz", "city", "Chicago")
    memory.set_preference("ana", "city", "Austin")
    memory.close()
    with serving(settings) as running:
        yield running


def _audited(settings: Settings) -> list[tuple[str, str]]:
    with sqlite3.connect(settings.data_dir / "audit.sqlite") as con:
        return con.execute("SELECT user, role FROM query_audit ORDER BY id").fetchall()


def test_a_claimed_user_in_the_body_reads_nobody_elses_memory(served: Served) -> None:
    response = served.ask("what do you remember about me?", user="chijazz")
    assert response.status_code == 200, response.text
    answer = response.json()["answer"]
    assert "USER: local" in answer
    assert "jazz" not in answer and "Chicago" not in answer


def test_the_token_names_the_user_and_role_whatever_the_body_claims(served: Served) -> None:
    token = served.token("ana")
    response = served.ask("what do you remember about me?", token, user="chijazz")
    assert response.status_code == 200, response.text
    answer = response.json()["answer"]
    assert "USER: ana" in answer and "Austin" in answer and "jazz" not in answer

    before = (
        len(_audited(served.settings))
        if (served.settings.data_dir / "audit.sqlite").exists()
        else 0
    )
    sales = served.ask("genre sales please", token, user="chijazz")
    assert sales.json()["answer"] == "Sales are in.", sales.text
    assert _audited(served.settings)[before:] == [("ana", "partner")]  # the audit: who it was

    own = served.ask("what do you remember about me?", served.token("chijazz"))
    assert "Chicago" in own.json()["answer"]  # the real owner still gets their memory


def test_forged_expired_revoked_or_malformed_tokens_are_refused(served: Served) -> None:
    now = int(time.time())
    claims = {"iss": "encore-local", "aud": "encore-api", "sub": "chijazz", "role": "admin",
              "iat": now, "exp": now + 600, "jti": uuid.uuid4().hex}  # fmt: skip
    forged = jwt.encode(claims, "not the server's secret, but long enough to sign", "HS256")
    expired = served.issuer.issue(Principal("chijazz", "analyst"), ttl_s=-60)
    revoked = served.token("ana")
    Denylist(api_dir(served.settings) / "revoked.sqlite").revoke_user("ana")
    for token in (forged, expired, revoked):
        response = served.ask("what do you remember about me?", token)
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"] == "Bearer"
        assert "Chicago" not in response.text
    basic = httpx.post(
        f"{served.url}/invocations",
        json={"prompt": "what do you remember about me?"},
        headers={"Authorization": "Basic Y2hpamF6ejpwdw=="},
        timeout=30,
        trust_env=False,
    )
    assert basic.status_code == 401


def _context(**headers: str) -> RequestContext:
    return RequestContext(session_id=None, request_headers=headers or None)


async def test_require_token_refuses_anonymous_calls_and_body_user_is_opt_in(
    small_warehouse: Settings,
) -> None:
    settings = agent_settings(user="local", role="analyst")
    required = Runtime(
        small_warehouse, settings, runtime_settings=RuntimeSettings(require_token=True)
    )
    refused = await required.invoke({"prompt": "hi", "user": "chijazz"}, _context())
    assert refused.status_code == 401

    default = Runtime(small_warehouse, settings, runtime_settings=RuntimeSettings())
    assert await default._caller({"user": "chijazz"}, _context()) == ("local", "analyst")
    dev = Runtime(small_warehouse, settings, runtime_settings=RuntimeSettings(body_user=True))
    assert await dev._caller({"user": "chijazz"}, _context()) == ("chijazz", "analyst")
