"""Keep the page offline: strip the web-font and KaTeX CDN links from Chainlit's index page.

Chainlit's built `index.html` links Google Fonts and a jsDelivr stylesheet; the page works
without them (system fonts, no LaTeX), and a machine without internet must not wait on them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

import chainlit.server

_EXTERNAL: Final = re.compile(
    r"<link\b[^>]*href=\"https?://[^\"]*\"[^>]*/?>", re.IGNORECASE | re.DOTALL
)


def strip_external_links(html: str) -> str:
    """The page without `<link>` tags pointing off the machine."""
    return _EXTERNAL.sub("", html)


def install() -> None:
    """Wrap Chainlit's index template so every served page has no external links (idempotent)."""
    original: Callable[[str], str] = chainlit.server.get_html_template
    if getattr(original, "_encore_offline", False):
        return

    def offline_template(root_path: str) -> str:
        return strip_external_links(original(root_path))

    offline_template._encore_offline = True  # type: ignore[attr-defined]
    chainlit.server.get_html_template = offline_template
