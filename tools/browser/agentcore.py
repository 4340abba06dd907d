"""Amazon Bedrock AgentCore Browser as a `Browser`: a managed Chromium driven over CDP.

Building this adapter touches neither AWS nor the network; `bedrock_agentcore`, boto3 and
Playwright are imported on the first `fetch`, which also checks that AWS credentials exist and
says what to set when they do not. Every navigation (the first URL, redirects, scripted
navigations) passes the same allow-list and address check as the local browser.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from core.errors import ConfigError, SourceError, ValidationError
from tools.browser.base import RawPage
from tools.browser.config import BrowserConfig
from tools.browser.guard import Resolver, check_url, system_resolver

log = logging.getLogger(__name__)


def _credentials_present() -> bool:
    import boto3

    return boto3.Session().get_credentials() is not None


class AgentCoreBrowser:
    """Fetches pages in an AgentCore Browser session (one session per fetch, stopped after)."""

    name = "agentcore"

    def __init__(
        self,
        config: BrowserConfig | None = None,
        *,
        region: str = "us-east-1",
        resolver: Resolver = system_resolver,
    ) -> None:
        self.config = config or BrowserConfig()
        self.region = region
        self._resolver = resolver

    def close(self) -> None:
        """Nothing held between fetches: each fetch starts and stops its own session."""

    def _client(self) -> Any:
        try:
            from bedrock_agentcore.tools.browser_client import BrowserClient
        except ImportError as exc:
            raise ConfigError(
                "the AgentCore browser needs the bedrock-agentcore package; install it or set "
                "the browser backend to 'local'"
            ) from exc
        if not _credentials_present():
            raise ConfigError(
                "the AgentCore browser needs AWS credentials (AWS_ACCESS_KEY_ID/"
                "AWS_SECRET_ACCESS_KEY or AWS_PROFILE) and region "
                f"{self.region!r}; without AWS use the local browser (ENCORE_PROFILE=local)",
                region=self.region,
            )
        return BrowserClient(self.region, integration_source="encore")

    def fetch(self, url: str) -> RawPage:
        """Open `url` in a managed browser and return the rendered HTML."""
        cfg = self.config
        check_url(url, cfg.allowed_domains, self._resolver)
        client = self._client()
        try:
            from playwright.sync_api import Error as PlaywrightError
            from playwright.sync_api import sync_playwright
        except ImportError as exc:
            raise ConfigError("the AgentCore browser needs playwright installed") from exc
        refused: list[str] = []
        redirects: list[str] = []
        client.start()
        try:
            ws_url, headers = client.generate_ws_headers()
            with sync_playwright() as pw:
                chromium = pw.chromium.connect_over_cdp(ws_url, headers=headers)
                page = chromium.new_page()

                def guard(route: Any) -> None:
                    request = route.request
                    if request.is_navigation_request():
                        try:
                            check_url(request.url, cfg.allowed_domains, self._resolver)
                        except ValidationError as exc:
                            refused.append(str(exc))
                            route.abort()
                            return
                        if request.url != url:
                            redirects.append(request.url)
                    route.continue_()

                page.route("**/*", guard)
                response = page.goto(url, timeout=cfg.timeout_s * 1000)
                if refused:
                    raise ValidationError(refused[0], url=url, reason="redirect")
                body = page.content().encode()
                final_url = page.url
                status = response.status if response is not None else 200
                chromium.close()
        except PlaywrightError as exc:
            if refused:
                raise ValidationError(refused[0], url=url, reason="redirect") from exc
            raise SourceError(f"{url} could not be fetched in AgentCore Browser: {exc}") from exc
        finally:
            client.stop()
        truncated = len(body) > cfg.max_bytes
        return RawPage(
            url=url,
            final_url=final_url,
            status=status,
            content_type="text/html",
            body=body[: cfg.max_bytes],
            truncated=truncated,
            fetched_at=datetime.now(UTC),
            redirects=redirects,
            encoding="utf-8",
        )
