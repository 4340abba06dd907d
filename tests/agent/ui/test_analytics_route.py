"""/analytics and /analytics/data on the chat UI's real FastAPI app (Chainlit's), signed in with
Chainlit's own JWT, over a trained copy of the small warehouse."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import chainlit.server
import pytest
from chainlit.auth import create_jwt
from chainlit.config import config
from chainlit.user import User
from fastapi.testclient import TestClient

from agent.ui import dashboard
from core.settings import Settings
from tests.conftest import copy_warehouse, query_warehouse


@pytest.fixture(scope="module")
def warehouse(trained_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return copy_warehouse(trained_warehouse, tmp_path_factory.mktemp("ui-analytics"), models=True)


@pytest.fixture
def client(warehouse: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The app with sign-in required, as `encore ui` runs it (password login, a JWT secret)."""
    monkeypatch.setenv("CHAINLIT_AUTH_SECRET", "test-secret-" + "x" * 40)
    monkeypatch.setattr(config.code, "password_auth_callback", lambda user, password: None)
    monkeypatch.setattr(config.code, "data_layer", None)
    cache = dashboard.install_analytics(warehouse)
    monkeypatch.setattr(cache, "settings", warehouse)
    yield TestClient(chainlit.server.app)


def _as(role: str) -> dict[str, str]:
    token = create_jwt(User(identifier=f"{role}-user", metadata={"role": role}))
    return {"Authorization": f"Bearer {token}"}


def _tiles(view: dict[str, Any]) -> dict[str, str]:
    return {t["key"]: t["value"] for t in view["tiles"]}


def _channels(view: dict[str, Any]) -> list[str]:
    return list(view["panels"]["channels"]["figure"]["data"][0]["x"])


def test_not_signed_in_gets_401_and_an_unknown_role_403(client: TestClient) -> None:
    for path in ("/analytics", "/analytics/data", "/analytics/plotly.min.js"):
        assert client.get(path).status_code == 401, path
    assert client.get("/analytics", headers=_as("intern")).status_code == 403


def test_the_page_embeds_the_view_for_the_url_filters(client: TestClient) -> None:
    page = client.get("/analytics", params={"genre": "Rock"}, headers=_as("analyst"))
    assert page.status_code == 200, page.text
    assert "connect-src 'self'" in page.headers["content-security-policy"]
    assert '<script src="/analytics/plotly.min.js"></script>' in page.text
    assert 'data-endpoint="/analytics/data"' in page.text
    found = re.search(r'id="analytics-view">(.*?)</script>', page.text, re.S)
    assert found
    view = json.loads(found[1])
    assert view["filters"] == {"genre": "rock"}  # the warehouse's spelling
    assert {row[1] for row in view["tables"]["artists"]["rows"]} == {"rock"}
    js = client.get("/analytics/plotly.min.js", headers=_as("partner"))
    assert js.status_code == 200 and "plotly" in js.text[:2000].lower()


def test_filters_change_the_numbers_and_partners_see_their_channel(
    client: TestClient, warehouse: Settings
) -> None:
    everything = client.get("/analytics/data", headers=_as("analyst")).json()
    year = {"from": "2025-01-01", "to": "2025-12-31"}
    in_2025 = client.get("/analytics/data", params=year, headers=_as("analyst")).json()
    [(tickets,)] = query_warehouse(
        warehouse,
        "SELECT sum(tickets_sold) FROM concert_performance WHERE status = 'completed' "
        "AND event_date BETWEEN DATE '2025-01-01' AND DATE '2025-12-31'",
    )
    assert _tiles(in_2025)["tickets_sold"] == f"{tickets:,}"
    assert _tiles(everything)["tickets_sold"] != _tiles(in_2025)["tickets_sold"]
    assert set(_channels(in_2025)) == {"web", "mobile", "box_office", "partner"}
    partner = client.get("/analytics/data", params=year, headers=_as("partner")).json()
    assert _channels(partner) == ["partner"]
    assert _tiles(partner)["tickets_sold"] == _tiles(in_2025)["tickets_sold"]


def test_drill_down_into_a_venue_and_bad_input(client: TestClient, warehouse: Settings) -> None:
    [(venue_id, venue, city, state, concerts)] = query_warehouse(
        warehouse,
        "SELECT v.venue_id, v.name, v.city, v.state, count(*) FROM concert_performance p "
        "JOIN venues v USING (venue_id) WHERE p.event_date >= DATE '2025-01-01' "
        "GROUP BY ALL ORDER BY 5 DESC, 1 LIMIT 1",
    )
    auth = _as("analyst")
    # the page opens a venue by its id; a name only one venue has opens it too
    for name in (venue_id, venue.lower()):
        params = {"from": "2025-01-01", "detail": "venue", "name": name}
        detail = client.get("/analytics/data", params=params, headers=auth)
        assert detail.status_code == 200, detail.text
        body = detail.json()
        assert body["name"] == f"{venue} ({city}, {state})" and body["key"] == venue_id
        assert len(body["table"]["rows"]) == concerts
        assert body["summary"].startswith(f"{concerts:,} concerts")

    unknown = client.get("/analytics/data", params={"detail": "venue", "name": "Nowhere Hall"},
                         headers=auth)  # fmt: skip
    assert (
        unknown.status_code == 400 and "no venue named 'Nowhere Hall'" in unknown.json()["detail"]
    )
    empty_range = {"from": "2025-02-01", "to": "2025-01-01"}
    assert client.get("/analytics/data", params=empty_range, headers=auth).status_code == 400
    assert client.get("/analytics", params={"from": "soon"}, headers=auth).status_code == 422
    no_name = client.get("/analytics/data", params={"detail": "artist"}, headers=auth)
    assert no_name.status_code == 422
