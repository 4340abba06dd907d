"""The browser interface: open one URL under the policy of a `BrowserConfig`, return raw bytes.

    Browser (Protocol)
     ├── LocalBrowser      httpx, redirects followed by hand and each one re-checked (default)
     └── AgentCoreBrowser  Amazon Bedrock AgentCore Browser over CDP (settings.profile == "aws")

Adapters translate their own failures into `core.errors` at this edge: a refused URL raises
`ValidationError`, a network failure or timeout raises `SourceError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class RawPage:
    """What came back from one fetch, before any extraction."""

    url: str
    final_url: str
    status: int
    content_type: str
    body: bytes
    truncated: bool
    fetched_at: datetime
    redirects: list[str] = field(default_factory=list)
    """Every URL that redirected, in order; the last hop is `final_url`."""
    encoding: str | None = None


class Browser(Protocol):
    """Fetches a page, enforcing its config's allow-list, size, time and redirect limits."""

    name: str

    def fetch(self, url: str) -> RawPage: ...

    def close(self) -> None: ...
