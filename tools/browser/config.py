"""How the browser may fetch: allowed domains, limits, cache lifetimes and which backend runs it."""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import BaseModel, Field

from core.settings import Settings

DEFAULT_ALLOWED_DOMAINS: Final[tuple[str, ...]] = (
    "ticketmaster.com",
    "livenation.com",
    "setlist.fm",
    "songkick.com",
    "bandsintown.com",
    "wikipedia.org",
    "spotify.com",
    "musicbrainz.org",
    "last.fm",
    "axs.com",
    "seatgeek.com",
    "billboard.com",
    "pollstar.com",
    "eventbrite.com",
    "stubhub.com",
    "dice.fm",
    "residentadvisor.net",
    "ra.co",
    "allmusic.com",
    "discogs.com",
    "wikidata.org",
)
"""Concert-information sites. A listed domain also allows its subdomains (en.wikipedia.org)."""

DEFAULT_CONTENT_TYPES: Final[tuple[str, ...]] = (
    "text/html",
    "application/xhtml+xml",
    "text/plain",
    "application/json",
    "application/ld+json",
)

BackendName = Literal["local", "agentcore"]


class BrowserConfig(BaseModel):
    """Limits and policy for `fetch_page` and `lookup_source`; defaults describe the offline path.

    `allowed_domains` entries are host names (subdomains included) or literal IP addresses. A
    literal IP is the only way to reach a private or loopback address: hosts that resolve to one
    are refused, so a listed domain cannot be pointed at the internal network (SSRF).
    """

    allowed_domains: tuple[str, ...] = DEFAULT_ALLOWED_DOMAINS
    max_bytes: int = Field(2_000_000, gt=0, description="body bytes read before truncating")
    timeout_s: float = Field(10.0, gt=0, description="wall-clock limit for one fetch")
    max_redirects: int = Field(5, ge=0)
    content_types: tuple[str, ...] = DEFAULT_CONTENT_TYPES
    page_ttl_s: float = Field(900.0, ge=0, description="how long a fetched page is reused")
    lookup_ttl_s: float = Field(3600.0, ge=0, description="how long a source lookup is reused")
    max_text_chars: int = Field(20_000, gt=0, description="extracted text handed back, at most")
    user_agent: str = "EncoreBot/0.1 (+concert-intelligence; respects robots)"
    backend: BackendName | None = Field(
        None, description="None: 'agentcore' when settings.profile is 'aws', else 'local'"
    )

    @classmethod
    def from_settings(cls, settings: Settings) -> BrowserConfig:
        """The config from the `ENCORE_BROWSER_*` settings that are set, defaults otherwise."""
        found: dict[str, Any] = {}
        for name in cls.model_fields:
            value = getattr(settings, f"browser_{name}", None)
            if value is not None:
                found[name] = tuple(value) if isinstance(value, list) else value
        return cls.model_validate(found)

    def allowing(self, *domains: str) -> BrowserConfig:
        """A copy that also allows `domains` (e.g. '127.0.0.1' in tests)."""
        return self.model_copy(update={"allowed_domains": (*self.allowed_domains, *domains)})
