"""The REST API end to end: real uvicorn on loopback, httpx, the trained small warehouse."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest

from agent.rest.app import create_app
from agent.rest.auth import LocalIssuer, Principal
from agent.rest.config import ApiSettings
from agent.ui.auth import UserStore
from core.settings import Settings
from tests.agent.rest.conftest import PASSWORD, Api, client, login, running
from tests.conftest import query_warehouse
from tools.insights import ranking


@pytest.fixture(scope="module")
def names(api: Api) -> dict[str, str]:
    """Real names from the warehouse: a busy artist, a venue it played, a fan with purchases."""
    artist, venue = query_warehouse(
        api.settings,
        "SELECT any_value(a.name), arg_max(v.name, v.capacity) FROM concert_performance p "
        "JOIN artists a USING (artist_id) JOIN venues v USING (venue_id) "
        "WHERE p.status = 'completed' GROUP BY a.artist_id ORDER BY count(*) DESC, 1 LIMIT 1",
    )[0]
    (fan,) = query_warehouse(
        api.settings,
        "SELECT fan_id FROM ticket_sales WHERE fan_id IS NOT NULL "
        "GROUP BY fan_id ORDER BY count(*) DESC, fan_id LIMIT 1",
    )[0]
    return {"artist": str(artist), "venue": str(venue), "fan": str(fan)}


def ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def test_a_token_opens_every_endpoint_with_real_data(api: Api, names: dict[str, str]) -> None:
    artist, venue = names["artist"], names["venue"]
    with api.as_("ana") as http:
        assert ok(http.get("/v1/me")) == {"user": "ana", "role": "analyst"}

        ranked = ok(http.get("/v1/venues/rankings", params={"limit": 5}))
        assert 1 <= len(ranked["rows"]) <= 5
        assert [r["rank"] for r in ranked["rows"]] == sorted(r["rank"] for r in ranked["rows"])
        assert set(ranked["rows"][0]["factors"]) == {"attendance", "revenue", "frequency", "trend"}
        state = ranked["rows"][0]["state"]
        in_state = ok(http.get("/v1/venues/rankings", params={"state": state}))
        assert in_state["filters"] == {"state": state}
        assert {r["state"] for r in in_state["rows"]} == {state}

        params = {"artist": artist, "venue": venue, "date": "2027-03-12", "price": 65}
        forecast = ok(http.get("/v1/predictions/ticket-sales", params=params))
        assert forecast["artist"] == artist and forecast["date"] == "2027-03-12"
        assert forecast["tickets_low"] <= forecast["tickets_sold"] <= forecast["tickets_high"]
        assert 0 <= forecast["confidence"] <= 1
        assert forecast["low_confidence"] == (forecast["confidence"] < 0.70)

        batch = {"items": [params, {**params, "date": "2027-08-01", "price": None}]}
        forecasts = ok(http.post("/v1/predictions/ticket-sales", json=batch))["predictions"]
        assert [f["date"] for f in forecasts] == ["2027-03-12", "2027-08-01"]

        for_fan = ok(http.get("/v1/recommendations/concerts", params={"fan_id": names["fan"]}))
        assert for_fan["fan_id"] == names["fan"] and for_fan["items"]
        assert all(item["reason"] for item in for_fan["items"])
        by_taste = ok(http.get("/v1/recommendations/concerts", params={"genres": ["rock", "pop"]}))
        assert by_taste["items"]

        similar = ok(http.get("/v1/recommendations/similar-artists", params={"artist": artist}))
        assert similar["items"] and artist not in {i["artist"] for i in similar["items"]}
        venues = ok(http.get("/v1/recommendations/venues", params={"artist": artist, "limit": 3}))
        assert 1 <= len(venues["items"]) <= 3

        history = ok(http.get("/v1/artists/history", params={"artist": artist.upper()}))
        assert history["artist"]["name"] == artist
        assert history["summary"]["concerts"] >= 1 and history["history"]["rows"]

        query = {"measures": ["tickets_sold"], "dimensions": ["genre"], "limit": 3}
        result = ok(http.post("/v1/query", json=query))
        assert result["columns"] == ["genre", "tickets_sold"] and len(result["rows"]) == 3
        assert "SELECT" in result["sql"]
        assert result["coverage"] is None  # concert results: every concert counts
        by_channel = {"measures": ["tickets_sold"], "dimensions": ["channel"]}
        coverage = ok(http.post("/v1/query", json=by_channel))["coverage"]
        assert 0 < coverage["concerts_covered"] < coverage["concerts"], coverage
        assert coverage["note"].startswith("From ticket transactions, which cover")
        catalog = ok(http.get("/v1/query/catalog"))
        assert "tickets_sold" in {m["name"] for m in catalog["measures"]}


def test_openapi_documents_the_endpoints_and_the_error_shape(api: Api) -> None:
    with client(api.url) as http:
        spec = ok(http.get("/openapi.json"))
        assert ok(http.get("/health"))["status"] == "ok"
    paths = {"/v1/token", "/v1/venues/rankings", "/v1/predictions/ticket-sales", "/v1/query",
             "/v1/artists/history", "/v1/recommendations/concerts"}  # fmt: skip
    assert paths <= set(spec["paths"])
    rankings = spec["paths"]["/v1/venues/rankings"]["get"]
    band = next(p for p in rankings["parameters"] if p["name"] == "capacity_band")
    assert "xl" in str(band["schema"])
    assert rankings["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "ErrorBody"
    )
    assert "SalesPrediction" in str(spec["paths"]["/v1/predictions/ticket-sales"]["get"])


def test_unknown_names_are_404_with_close_names(api: Api, names: dict[str, str]) -> None:
    with api.as_("ana") as http:
        response = http.get("/v1/artists/history", params={"artist": "Zzyzx Nonesuch Quartet"})
        assert response.status_code == 404
        assert response.json()["error"] == "not found"
        assert "no artist named 'Zzyzx Nonesuch Quartet'" in response.json()["detail"]
        response = http.get(
            "/v1/predictions/ticket-sales",
            params={"artist": names["artist"], "venue": "Nowhere Hall 9000", "date": "2027-01-01"},
        )
        assert response.status_code == 404 and "venue" in response.json()["detail"]
        assert response.json()["suggestions"]  # the closest venue names
        fan = http.get("/v1/recommendations/concerts", params={"fan_id": "F999999999"})
        assert fan.status_code == 404 and "fan ids look like" in fan.json()["detail"]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/venues/rankings", {"limit": 0}, "query.limit"),
        ("/v1/venues/rankings", {"capacity_band": "huge"}, "query.capacity_band"),
        ("/v1/predictions/ticket-sales", {"artist": "x", "venue": "y", "date": "12/03/2027"},
         "query.date"),
        ("/v1/predictions/ticket-sales", {"artist": "x", "venue": "y"}, "query.date"),
        ("/v1/predictions/ticket-sales", {"artist": "x", "venue": "y", "date": "2027-01-01",
                                          "price": -5}, "query.price"),
    ],
)  # fmt: skip
def test_bad_input_is_422_naming_the_field(
    api: Api, path: str, params: dict[str, Any], field: str
) -> None:
    with api.as_("ana") as http:
        response = http.get(path, params=params)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid request"
    assert field in [item["field"] for item in body["detail"]], body
    assert all(item["message"] for item in body["detail"])


def test_bad_bodies_are_422_with_the_tool_message(api: Api) -> None:
    with api.as_("ana") as http:
        empty = http.post("/v1/predictions/ticket-sales", json={"items": []})
        assert empty.status_code == 422 and empty.json()["detail"][0]["field"] == "items"
        unknown = http.post("/v1/query", json={"measures": ["tickets_sould"]})
        assert unknown.status_code == 422
        assert "unknown measure 'tickets_sould'" in unknown.json()["detail"]
        assert unknown.json()["suggestions"] == ["tickets_sold"]
        garbage = http.post(
            "/v1/query", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert garbage.status_code == 422


def test_tokens_missing_invalid_expired_or_wrong_password_are_401(api: Api) -> None:
    issuer = LocalIssuer(api.settings, ApiSettings())
    expired = issuer.issue(Principal("ana", "analyst"), ttl_s=-60)
    forged = LocalIssuer(api.settings, ApiSettings(), secret="x" * 48).issue(
        Principal("ana", "admin")
    )
    with client(api.url) as http:
        for headers in (
            {},
            {"Authorization": "Bearer not-a-jwt"},
            {"Authorization": f"Bearer {expired}"},
            {"Authorization": f"Bearer {forged}"},
            {"Authorization": f"Basic {api.tokens['ana']}"},
        ):
            response = http.get("/v1/venues/rankings", headers=headers)
            assert response.status_code == 401, headers
            assert response.headers["www-authenticate"] == "Bearer"
            assert response.json()["error"] == "unauthorized"
        assert (
            "expired"
            in http.get("/v1/me", headers={"Authorization": f"Bearer {expired}"}).json()["detail"]
        )
        wrong = http.post("/v1/token", data={"username": "ana", "password": "nope-nope"})
        assert wrong.status_code == 401
        nobody = http.post("/v1/token", data={"username": "nobody", "password": PASSWORD})
        assert nobody.json() == wrong.json()  # no hint which of the two was wrong


def test_the_token_role_is_the_query_policy_role(api: Api, names: dict[str, str]) -> None:
    query = {"measures": ["tickets_sold"], "dimensions": ["channel"]}
    with api.as_("ana") as analyst, api.as_("pat") as partner:
        seen = {row[0] for row in ok(analyst.post("/v1/query", json=query))["rows"]}
        assert {"web", "partner"} <= seen
        # the policy's row filter limits a partner's ticket sales to the partner channel
        assert {row[0] for row in ok(partner.post("/v1/query", json=query))["rows"]} == {"partner"}
        # and hides fans by id: a partner may not ask for one fan's recommendations
        fan = {"fan_id": names["fan"]}
        refused = partner.get("/v1/recommendations/concerts", params=fan)
        assert refused.status_code == 403 and "partner" in refused.json()["detail"]
        assert ok(analyst.get("/v1/recommendations/concerts", params=fan))["items"]
        # insights that reveal no fan stay open to every role
        assert ok(partner.get("/v1/venues/rankings", params={"limit": 1}))["rows"]
    with api.as_("root") as admin:
        assert ok(admin.get("/v1/me"))["role"] == "admin"


def test_crashes_are_json_without_tracebacks_and_requests_are_logged(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internals /etc/encore")

    monkeypatch.setattr(ranking, "venue_ranking", boom)
    caplog.set_level(logging.INFO, logger="agent.rest")  # until teardown: the line may come late
    with api.as_("pat") as http:
        response = http.get("/v1/venues/rankings")
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == "internal error" and body["detail"].startswith("request id ")
    assert "secret internals" not in response.text and "Traceback" not in response.text
    # the server thread logs once the response is sent, maybe just after the client has it
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        lines = [r.getMessage() for r in caplog.records if r.name == "agent.rest.access"]
        if any("GET /v1/venues/rankings 500" in line and "user=pat" in line for line in lines):
            break
        time.sleep(0.02)
    else:
        pytest.fail(f"no access-log line naming the user: {lines}")


def test_rate_limit_and_body_limit(tmp_path: Path) -> None:
    # a data dir of its own: the buckets are shared by every server on a data dir, and these
    # tight limits would otherwise leave the module's other tests with empty buckets
    settings = Settings(data_dir=tmp_path / "encore")
    for name in ("pat", "ana"):
        UserStore(settings).add(name, PASSWORD, role="analyst")
    limits = ApiSettings(rate_per_s=0.5, rate_burst=3, max_body_bytes=1024, login_per_min=2)
    with running(create_app(settings, limits)) as url:
        token = login(url, "pat")
        with client(url, token) as http:
            statuses = [http.get("/v1/me").status_code for _ in range(4)]
            assert statuses == [200, 200, 200, 429]
            limited = http.get("/v1/me")
            assert limited.status_code == 429
            assert 1 <= int(limited.headers["retry-after"]) <= 2
            assert limited.json()["error"] == "too many requests"
        # another user has a bucket of their own
        with client(url, login(url, "ana")) as other:
            big = other.post("/v1/query", json={"measures": ["x" * 2000]})
            assert big.status_code == 413 and big.json()["error"] == "request too large"
        with client(url) as anon:
            tries = [
                anon.post("/v1/token", data={"username": "ana", "password": "wrong-one"})
                for _ in range(2)
            ]
            assert [t.status_code for t in tries] == [401, 429]
            assert int(tries[1].headers["retry-after"]) >= 1
            bad = {"Authorization": "Bearer not-a-jwt"}
            rejected = [anon.get("/v1/me", headers=bad).status_code for _ in range(3)]
            assert rejected == [401, 401, 429]  # per address, so forged tokens cannot flood


def test_venues_near_a_city_carry_their_distance(api: Api, names: dict[str, str]) -> None:
    (city,) = query_warehouse(
        api.settings, f"SELECT city FROM venues WHERE name = '{names['venue']}'"
    )[0]
    with api.as_("ana") as http:
        params = {"artist": names["artist"], "near": city, "within_km": 400}
        near = ok(http.get("/v1/recommendations/venues", params=params))
        assert near["items"], near
        assert all(0 <= item["distance_km"] <= 400 for item in near["items"]), near
        nowhere = http.get(
            "/v1/recommendations/venues", params={"artist": names["artist"], "near": "Smallville"}
        )
        assert nowhere.status_code == 422, nowhere.text
        assert "cannot place 'Smallville'" in nowhere.json()["detail"]
        assert nowhere.json()["suggestions"]  # the closest city names
        zero = http.get("/v1/recommendations/venues", params={**params, "within_km": 0})
        assert zero.status_code == 422
        assert "query.within_km" in [item["field"] for item in zero.json()["detail"]]
