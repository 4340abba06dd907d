"""LocalBrowser connects to the address it checked (no second DNS lookup to rebind)."""

from __future__ import annotations

import httpx
import pytest

from core.errors import SourceError, ValidationError
from tests.tools.browser.test_guard import fake_dns
from tools.browser import BrowserConfig
from tools.browser.local import LocalBrowser


def test_connects_to_the_checked_address_with_the_name_in_host_and_sni() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, html="<html><title>ok</title></html>")

    browser = LocalBrowser(
        BrowserConfig(), resolver=fake_dns, transport=httpx.MockTransport(answer)
    )
    page = browser.fetch("https://www.setlist.fm/setlists?page=2")
    assert page.final_url == "https://www.setlist.fm/setlists?page=2"
    (request,) = seen
    assert str(request.url) == "https://151.101.1.1/setlists?page=2"
    assert request.headers["host"] == "www.setlist.fm"
    assert request.extensions["sni_hostname"] == "www.setlist.fm"


def test_redirect_to_a_name_resolving_inside_is_refused_before_connecting() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(302, headers={"Location": "https://rebind.setlist.fm/admin"})

    browser = LocalBrowser(
        BrowserConfig(), resolver=fake_dns, transport=httpx.MockTransport(answer)
    )
    with pytest.raises(ValidationError, match=r"rebind\.setlist\.fm resolves to a private"):
        browser.fetch("https://www.setlist.fm/")
    assert seen == ["https://151.101.1.1/"]


def test_time_limit_covers_the_whole_redirect_chain() -> None:
    clock = [0.0]

    def answer(request: httpx.Request) -> httpx.Response:
        clock[0] += 0.3  # each hop answers in time, the chain does not
        step = int(request.url.path.strip("/") or 0)
        return httpx.Response(302, headers={"Location": f"/{step + 1}"})

    browser = LocalBrowser(
        BrowserConfig(timeout_s=0.5),
        resolver=fake_dns,
        transport=httpx.MockTransport(answer),
        monotonic=lambda: clock[0],
    )
    with pytest.raises(SourceError, match=r"did not answer within 0\.5 s"):
        browser.fetch("https://www.setlist.fm/")
    assert clock[0] == pytest.approx(0.6)
