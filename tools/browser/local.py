"""The default browser: plain HTTP with httpx, limits enforced while the body streams in."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urljoin

import httpx

from core.errors import SourceError, ValidationError
from tools.browser.base import RawPage
from tools.browser.config import BrowserConfig
from tools.browser.guard import Resolver, checked_address, system_resolver

log = logging.getLogger(__name__)

_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class LocalBrowser:
    """Fetches with httpx; never follows a redirect it has not checked against the allow-list."""

    name = "local"

    def __init__(
        self,
        config: BrowserConfig | None = None,
        *,
        resolver: Resolver = system_resolver,
        transport: httpx.BaseTransport | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config or BrowserConfig()
        self._resolver = resolver
        self._monotonic = monotonic
        self._client = httpx.Client(
            follow_redirects=False,
            timeout=httpx.Timeout(self.config.timeout_s),
            headers={"User-Agent": self.config.user_agent, "Accept": "text/html,*/*;q=0.8"},
            transport=transport,
            trust_env=False,  # a proxy from the environment would bypass the address check
        )

    def close(self) -> None:
        self._client.close()

    def fetch(self, url: str) -> RawPage:
        """GET `url`, following up to `max_redirects` checked redirects, reading at most
        `max_bytes` of the body and giving up after `timeout_s` in total."""
        cfg = self.config
        deadline = self._monotonic() + cfg.timeout_s
        current = url
        hops: list[str] = []
        while True:
            address = checked_address(current, cfg.allowed_domains, self._resolver)
            try:
                if self._monotonic() > deadline:  # the limit covers the whole redirect chain
                    raise httpx.ConnectTimeout("total time limit reached")
                page = self._get(current, address, deadline)
            except httpx.TimeoutException as exc:
                raise SourceError(
                    f"{current} did not answer within {cfg.timeout_s:g} s; try again later "
                    "or raise the browser timeout",
                    url=current,
                    reason="timeout",
                ) from exc
            except httpx.HTTPError as exc:
                raise SourceError(
                    f"{current} could not be fetched: {exc.__class__.__name__}: {exc}",
                    url=current,
                    reason="network",
                ) from exc
            if isinstance(page, str):
                if len(hops) >= cfg.max_redirects:
                    raise SourceError(
                        f"{url} redirected more than {cfg.max_redirects} times; stopped at {page}",
                        url=url,
                        reason="redirects",
                    )
                hops.append(current)
                current = page
                continue
            return RawPage(
                url=url,
                final_url=current,
                status=page.status,
                content_type=page.content_type,
                body=page.body,
                truncated=page.truncated,
                fetched_at=page.fetched_at,
                redirects=hops,
                encoding=page.encoding,
            )

    def _request(self, url: str, address: str | None) -> httpx.Request:
        """A GET for `url` sent to the checked `address`, with Host and TLS SNI kept as named."""
        target = httpx.URL(url)
        if address is None:
            return self._client.build_request("GET", target)
        host = target.host
        port = target.port
        return self._client.build_request(
            "GET",
            target.copy_with(host=address),
            headers={"Host": host if port is None else f"{host}:{port}"},
            extensions={"sni_hostname": host},  # certificates are still checked for the name
        )

    def _get(self, url: str, address: str | None, deadline: float) -> str | RawPage:
        """One request: the redirect target, or the page read within the byte and time limits."""
        cfg = self.config
        response = self._client.send(self._request(url, address), stream=True)
        try:
            if response.status_code in _REDIRECTS:
                location = response.headers.get("location")
                if not location:
                    raise SourceError(
                        f"{url} answered {response.status_code} without a Location",
                        url=url,
                        reason="redirects",
                    )
                return urljoin(url, str(location))
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type and content_type not in cfg.content_types:
                raise ValidationError(
                    f"{url} returned {content_type}, which the browser does not read; "
                    f"readable types: {', '.join(cfg.content_types)}",
                    url=url,
                    content_type=content_type,
                    reason="content_type",
                )
            body = bytearray()
            truncated = False
            for chunk in response.iter_bytes():
                body.extend(chunk)
                if len(body) >= cfg.max_bytes:
                    declared = response.headers.get("content-length", "")
                    truncated = len(body) > cfg.max_bytes or declared != str(cfg.max_bytes)
                    del body[cfg.max_bytes :]
                    break
                if self._monotonic() > deadline:
                    raise httpx.ReadTimeout("total time limit reached", request=response.request)
            log.debug("fetched %s: %s, %d bytes", url, response.status_code, len(body))
            return RawPage(
                url=url,
                final_url=url,
                status=response.status_code,
                content_type=content_type or "text/html",
                body=bytes(body),
                truncated=truncated,
                fetched_at=datetime.now(UTC),
                encoding=response.charset_encoding,
            )
        finally:
            response.close()
