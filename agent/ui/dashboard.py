"""The pipeline-health dashboard inside the chat UI: `<root>/dashboard`, for signed-in analysts
and admins (as storage.py does for elements, on Chainlit's own FastAPI app).

The page is rebuilt from the warehouse on request and kept for a few seconds, so a reload storm
or several users cost one rebuild. plotly.js is served from the same origin rather than inlined,
so the browser caches its 4.7 MB once instead of fetching it with every page.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from core.errors import EncoreError
from core.settings import Settings

ROUTE: Final = "/dashboard"
PLOTLY_ROUTE: Final = "/dashboard/plotly.min.js"
CACHE_S: Final = 5.0
READER_ROLES: Final = frozenset({"analyst", "admin"})
"""Roles that see pipeline operations (partners see only aggregates of the contract tables)."""

_NOSNIFF: Final = {"X-Content-Type-Options": "nosniff"}
# Inline script and style are the page's own (the figure boot and CSS); nothing else may load.
_PAGE_HEADERS: Final = {
    "Cache-Control": "no-store",
    **_NOSNIFF,
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; "
        "img-src data:; font-src data:; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'"
    ),
}


@dataclass
class PageCache:
    """Rendered pages by their filters, each kept for `ttl_s` seconds."""

    settings: Settings
    ttl_s: float = CACHE_S
    _pages: dict[tuple[Any, ...], tuple[float, str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def page(
        self,
        *,
        days: int = 30,
        source: str | None = None,
        since: date | None = None,
        until: date | None = None,
        root_path: str = "",
    ) -> str:
        """The page for these filters: from the cache while fresh, else rebuilt."""
        key = (days, source or None, since, until, root_path)
        # One rebuild at a time: requests arriving meanwhile get its result, not a rebuild each.
        with self._lock:
            now = time.monotonic()
            cached = self._pages.get(key)
            if cached and now - cached[0] < self.ttl_s:
                return cached[1]
            html = self._render(days, source, since, until, root_path)
            self._pages = {k: v for k, v in self._pages.items() if now - v[0] < self.ttl_s}
            self._pages[key] = (time.monotonic(), html)
            return html

    def _render(
        self, days: int, source: str | None, since: date | None, until: date | None, root: str
    ) -> str:
        from tools.dashboard import Filters, collect, render_html

        filters = Filters.last(days, source, since=since, until=until)
        data = collect(self.settings, filters, drift="background")
        return render_html(data, plotlyjs_url=root + PLOTLY_ROUTE, form_action=root + ROUTE)


_INSTALLED: dict[str, PageCache] = {}


def install(settings: Settings, root_path: str = "") -> PageCache:
    """Serve the dashboard at `<root_path>/dashboard` to signed-in analysts and admins.

    Idempotent; the routes go first, ahead of Chainlit's catch-all page route.
    """
    import anyio.to_thread
    import chainlit.server
    from chainlit.auth import get_current_user
    from fastapi import Depends, HTTPException, Query
    from fastapi.responses import HTMLResponse, Response
    from fastapi.routing import APIRoute

    from tools.dashboard.page import plotly_js

    app = chainlit.server.app
    root = root_path.rstrip("/")
    if root + ROUTE in _INSTALLED:
        return _INSTALLED[root + ROUTE]
    cache = _INSTALLED[root + ROUTE] = PageCache(settings)

    def allowed(user: Any) -> None:
        # No user means Chainlit runs without sign-in: operations data is never public.
        if user is None:
            raise HTTPException(status_code=401, detail="Sign in to see the dashboard")
        role = (getattr(user, "metadata", None) or {}).get("role")
        if role not in READER_ROLES:
            raise HTTPException(
                status_code=403, detail=f"the {role!r} role may not see pipeline operations"
            )

    async def dashboard(
        days: int = Query(30, ge=1, le=3650),
        source: str | None = None,
        since: date | None = None,
        until: date | None = None,
        user: Any = Depends(get_current_user),  # noqa: B008
    ) -> Any:
        allowed(user)
        try:
            html = await anyio.to_thread.run_sync(
                lambda: cache.page(
                    days=days, source=source, since=since, until=until, root_path=root
                )
            )
        except EncoreError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        return HTMLResponse(html, headers=_PAGE_HEADERS)

    async def plotly(user: Any = Depends(get_current_user)) -> Any:  # noqa: B008
        allowed(user)
        return Response(
            plotly_js(),
            media_type="text/javascript",
            headers={"Cache-Control": "private, max-age=86400", **_NOSNIFF},
        )

    app.router.routes.insert(0, APIRoute(root + ROUTE, dashboard, methods=["GET"]))
    app.router.routes.insert(0, APIRoute(root + PLOTLY_ROUTE, plotly, methods=["GET"]))
    return cache
