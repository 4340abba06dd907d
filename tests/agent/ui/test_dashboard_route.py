"""/dashboard on the chat UI's real FastAPI app (Chainlit's), signed in with Chainlit's own JWT."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import chainlit.server
import pytest
from chainlit.auth import create_jwt
from chainlit.config import config
from chainlit.user import User
from fastapi.testclient import TestClient

from agent.ui import dashboard
from core.settings import Settings
from core.warehouse import writing
from pipelines.monitoring import LocalMonitor
from tests.tools.dashboard.runs import ingest_sample_runs


@pytest.fixture(scope="module")
def warehouse(small_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return ingest_sample_runs(small_warehouse, tmp_path_factory.mktemp("ui-dashboard"))


@pytest.fixture
def client(warehouse: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The app with sign-in required, as `encore ui` runs it (password login, a JWT secret)."""
    monkeypatch.setenv("CHAINLIT_AUTH_SECRET", "test-secret-" + "x" * 40)
    monkeypatch.setattr(config.code, "password_auth_callback", lambda user, password: None)
    monkeypatch.setattr(config.code, "data_layer", None)
    cache = dashboard.install(warehouse)
    monkeypatch.setattr(cache, "settings", warehouse)
    cache._pages.clear()
    yield TestClient(chainlit.server.app)


def _signed_in(client: TestClient, role: str) -> dict[str, str]:
    token = create_jwt(User(identifier=f"{role}-user", metadata={"role": role}))
    return {"Authorization": f"Bearer {token}"}


def test_not_signed_in_gets_401(client: TestClient) -> None:
    assert client.get("/dashboard").status_code == 401
    assert client.get("/dashboard/plotly.min.js").status_code == 401


def test_partners_get_403(client: TestClient) -> None:
    assert client.get("/dashboard", headers=_signed_in(client, "partner")).status_code == 403


def test_an_analyst_sees_the_recorded_runs_and_the_filters_apply(client: TestClient) -> None:
    auth = _signed_in(client, "analyst")
    page = client.get("/dashboard", headers=auth)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert '<div class="v">3</div><div class="l">runs</div>' in page.text
    assert '<div class="v">7</div><div class="l">records in</div>' in page.text
    assert '<script src="/dashboard/plotly.min.js"></script>' in page.text
    assert '<option value="crm">crm</option>' in page.text  # the source filter lists sources

    crm = client.get("/dashboard", params={"source": "crm"}, headers=auth).text
    assert '<div class="v">1</div><div class="l">runs</div>' in crm
    assert '<div class="v">5</div><div class="l">records in</div>' in crm

    js = client.get("/dashboard/plotly.min.js", headers=auth)
    assert js.status_code == 200 and "plotly" in js.text[:2000].lower()
    assert client.get("/dashboard", params={"days": 0}, headers=auth).status_code == 422
    bad_range = {"since": "2026-11-20", "until": "2026-11-01"}
    assert client.get("/dashboard", params=bad_range, headers=auth).status_code == 400


def test_the_page_is_rebuilt_once_its_cache_expires(
    client: TestClient, warehouse: Settings, tmp_path: Path
) -> None:
    auth = _signed_in(client, "admin")
    assert "disk filling up" not in client.get("/dashboard", headers=auth).text
    with writing(warehouse) as con:
        LocalMonitor(con).alert("critical", "ingest:crm", "disk filling up")
    assert "disk filling up" not in client.get("/dashboard", headers=auth).text  # still cached
    dashboard.install(warehouse).ttl_s = 0.0
    assert "disk filling up" in client.get("/dashboard", headers=auth).text
