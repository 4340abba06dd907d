"""/docs and /redoc work offline: their assets come from the API itself, and Swagger UI renders
every operation in a real Chromium that can reach nothing but loopback."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.rest.app import create_app
from agent.rest.config import ApiSettings
from agent.ui.auth import UserStore
from core.settings import Settings
from tests.agent.rest.conftest import PASSWORD, client, login, running
from tests.agent.ui.conftest import CHROMIUM, FLAGS


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The API over a data dir with one user and no warehouse (the docs read none)."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("docs") / "encore")
    UserStore(settings).add("ana", PASSWORD, role="analyst")
    with running(create_app(settings, ApiSettings())) as base:
        yield base


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_doc_pages_load_only_local_assets(url: str, page: str) -> None:
    with client(url) as http:
        html = http.get(page)
        assert html.status_code == 200
        assets = re.findall(r'(?:src|href)="([^"]+)"', html.text)
        assert assets, html.text
        for asset in assets:
            assert asset.startswith("/"), f"{page} loads {asset} from elsewhere"
            response = http.get(asset)
            assert response.status_code == 200 and len(response.content) > 1000, asset
        assert "fonts.googleapis" not in html.text


@pytest.mark.browser
def test_swagger_ui_renders_every_operation_offline_and_tries_one(url: str, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with client(url) as http:
        spec: dict[str, Any] = http.get("/openapi.json").json()
    operations = sum(len(methods) for methods in spec["paths"].values())
    token = login(url, "ana")
    requested: list[str] = []
    failed: list[str] = []
    with sync_playwright() as playwright:
        # FLAGS send everything but loopback to a closed proxy port: the network is "off"
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            page = browser.new_page()
            page.on("request", lambda r: requested.append(r.url))
            page.on("requestfailed", lambda r: failed.append(r.url))
            page.goto(f"{url}/docs")
            page.wait_for_selector(".opblock", timeout=15_000)
            assert page.locator(".opblock").count() == operations
            assert page.locator(".opblock-summary-path", has_text="/v1/auth/revoke").count() == 1

            # sign in with the Authorize dialog, then try GET /v1/me as a user would
            page.get_by_role("button", name=re.compile("Authorize")).first.click()
            page.locator(".auth-container input").first.fill(token)
            page.locator(".auth-btn-wrapper button.authorize").click()
            page.locator(".btn-done").click()
            me = page.locator("#operations-auth-me_v1_me_get")
            me.locator(".opblock-summary").click()
            me.get_by_role("button", name="Try it out").click()
            me.get_by_role("button", name="Execute").click()
            body = me.locator(".live-responses-table .response-col_description pre").first
            body.wait_for(timeout=10_000)
            assert '"user": "ana"' in body.inner_text()
            page.screenshot(path=str(tmp_path / "swagger.png"))
        finally:
            browser.close()
    assert failed == []
    assert requested and all(u.startswith(url) for u in requested), requested
