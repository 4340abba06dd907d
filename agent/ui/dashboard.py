"""The dashboards inside the chat UI (as storage.py does for elements, on Chainlit's own FastAPI
app): pipeline health at `<root>/dashboard` for signed-in analysts and admins, and analytics at
`<root>/analytics` for every signed-in role, its numbers read as that role.

The page is rebuilt from the warehouse on request and kept for a few seconds, so a reload storm
or several users cost one rebuild. plotly.js is served from the same origin rather than inlined,
so the browser caches its 4.7 MB once instead of fetching it with every page.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Final, Literal, cast

from core.errors import EncoreError
from core.settings import Settings
from tools.context import ToolContext

if TYPE_CHECKING:
    from tools.dashboard.analytics_data import AnalyticsData, AnalyticsFilters

DetailKind = Literal["venue", "artist"]
"""What a drill-down opens (FastAPI reads it at runtime; the analytics modules load lazily)."""

ROUTE: Final = "/dashboard"
PLOTLY_ROUTE: Final = "/dashboard/plotly.min.js"
CACHE_S: Final = 5.0
ANALYTICS_ROUTE: Final = "/analytics"
ANALYTICS_DATA_ROUTE: Final = "/analytics/data"
ANALYTICS_PLOTLY_ROUTE: Final = "/analytics/plotly.min.js"
ANALYTICS_CACHE_S: Final = 30.0
"""Analytics answers are also keyed by the warehouse file's version, so a load shows at once."""
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
# The analytics page also fetches new views and drill-downs from its own origin.
_ANALYTICS_HEADERS: Final = {
    **_PAGE_HEADERS,
    "Content-Security-Policy": _PAGE_HEADERS["Content-Security-Policy"].replace(
        "default-src 'none';", "default-src 'none'; connect-src 'self';"
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
    from fastapi.responses import HTMLResponse
    from fastapi.routing import APIRoute

    app = chainlit.server.app
    root = root_path.rstrip("/")
    if root + ROUTE in _INSTALLED:
        return _INSTALLED[root + ROUTE]
    cache = _INSTALLED[root + ROUTE] = PageCache(settings)

    def allowed(user: Any) -> None:
        role = _signed_in_role(user, "the dashboard")
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
        return _plotly_response()

    app.router.routes.insert(0, APIRoute(root + ROUTE, dashboard, methods=["GET"]))
    app.router.routes.insert(0, APIRoute(root + PLOTLY_ROUTE, plotly, methods=["GET"]))
    install_analytics(settings, root)
    return cache


@dataclass
class AnalyticsCache:
    """Analytics views and drill-downs as JSON, by user, role, filters and warehouse version."""

    settings: Settings
    ttl_s: float = ANALYTICS_CACHE_S
    _answers: dict[tuple[Any, ...], tuple[float, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _kept(self, key: tuple[Any, ...], make: Any) -> Any:
        path = self.settings.warehouse_file
        version = path.stat().st_mtime_ns if path.exists() else 0
        key = (*key, version)
        with self._lock:  # one build at a time: a burst of requests costs one
            now = time.monotonic()
            cached = self._answers.get(key)
            if cached and now - cached[0] < self.ttl_s:
                return cached[1]
            answer = make()
            self._answers = {k: v for k, v in self._answers.items() if now - v[0] < self.ttl_s}
            self._answers[key] = (time.monotonic(), answer)
            return answer

    def data(self, ctx: ToolContext, filters: AnalyticsFilters) -> AnalyticsData:
        """The collected sections for the page's first paint and the view endpoint."""
        from tools.dashboard.analytics_data import collect_analytics

        key = ("view", ctx.user, ctx.role, filters)
        return cast("AnalyticsData", self._kept(key, lambda: collect_analytics(ctx, filters)))

    def detail(
        self, ctx: ToolContext, filters: AnalyticsFilters, kind: DetailKind, name: str
    ) -> str:
        """One venue's or artist's drill-down as JSON."""
        from tools.dashboard.analytics import build_detail, to_json
        from tools.dashboard.analytics_data import detail_key, details, resolve, resolve_filters

        def make() -> str:
            canonical = resolve(ctx, kind, name)
            found = details(ctx, resolve_filters(ctx, filters), kind, [canonical])
            return to_json(build_detail(found[detail_key(kind, canonical)]))

        return cast("str", self._kept(("detail", ctx.user, ctx.role, filters, kind, name), make))


def install_analytics(settings: Settings, root: str = "") -> AnalyticsCache:
    """Serve the analytics page at `<root>/analytics` (and its JSON at `/analytics/data`) to
    every signed-in user, with the numbers their role may see. Idempotent."""
    import anyio.to_thread
    import chainlit.server
    from chainlit.auth import get_current_user
    from fastapi import Depends, HTTPException, Query
    from fastapi.responses import HTMLResponse, Response
    from fastapi.routing import APIRoute

    from tools.dashboard.analytics import build_view, render_analytics, to_json
    from tools.dashboard.analytics_data import AnalyticsFilters
    from tools.query.policy import load_policy

    app = chainlit.server.app
    if root + ANALYTICS_ROUTE in _ANALYTICS:
        return _ANALYTICS[root + ANALYTICS_ROUTE]
    cache = _ANALYTICS[root + ANALYTICS_ROUTE] = AnalyticsCache(settings)

    def caller(user: Any) -> ToolContext:
        role = _signed_in_role(user, "the analytics")
        if role not in load_policy().roles:
            raise HTTPException(status_code=403, detail=f"the {role!r} role has no data access")
        return ToolContext(cache.settings, user=str(user.identifier), role=str(role))

    def filters_of(
        date_from: date | None, date_to: date | None, *names: str | None
    ) -> AnalyticsFilters:
        try:
            return AnalyticsFilters(date_from, date_to, *names)
        except EncoreError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc

    async def page(
        date_from: date | None = Query(None, alias="from"),  # noqa: B008
        date_to: date | None = Query(None, alias="to"),  # noqa: B008
        city: str | None = Query(None, max_length=200),
        state: str | None = Query(None, max_length=200),
        genre: str | None = Query(None, max_length=200),
        artist: str | None = Query(None, max_length=200),
        user: Any = Depends(get_current_user),  # noqa: B008
    ) -> Any:
        ctx = caller(user)
        filters = filters_of(date_from, date_to, city, state, genre, artist)

        def render() -> str:
            return render_analytics(
                cache.data(ctx, filters),
                plotlyjs_url=root + ANALYTICS_PLOTLY_ROUTE,
                endpoint=root + ANALYTICS_DATA_ROUTE,
            )

        try:
            html = await anyio.to_thread.run_sync(render)
        except EncoreError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        return HTMLResponse(html, headers=_ANALYTICS_HEADERS)

    async def data(
        date_from: date | None = Query(None, alias="from"),  # noqa: B008
        date_to: date | None = Query(None, alias="to"),  # noqa: B008
        city: str | None = Query(None, max_length=200),
        state: str | None = Query(None, max_length=200),
        genre: str | None = Query(None, max_length=200),
        artist: str | None = Query(None, max_length=200),
        detail: DetailKind | None = None,
        name: str | None = Query(None, min_length=1, max_length=200),
        user: Any = Depends(get_current_user),  # noqa: B008
    ) -> Any:
        ctx = caller(user)
        filters = filters_of(date_from, date_to, city, state, genre, artist)
        if detail and not name:
            raise HTTPException(status_code=422, detail=f"name the {detail} to open")

        def answer() -> str:
            if detail and name:
                return cache.detail(ctx, filters, detail, name)
            return to_json(build_view(cache.data(ctx, filters)))

        try:
            body = await anyio.to_thread.run_sync(answer)
        except EncoreError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        return Response(
            body, media_type="application/json", headers={"Cache-Control": "no-store", **_NOSNIFF}
        )

    async def plotly(user: Any = Depends(get_current_user)) -> Any:  # noqa: B008
        caller(user)
        return _plotly_response()

    for path, endpoint in (
        (ANALYTICS_ROUTE, page),
        (ANALYTICS_DATA_ROUTE, data),
        (ANALYTICS_PLOTLY_ROUTE, plotly),
    ):
        app.router.routes.insert(0, APIRoute(root + path, endpoint, methods=["GET"]))
    return cache


_ANALYTICS: dict[str, AnalyticsCache] = {}


def _signed_in_role(user: Any, what: str) -> Any:
    """The signed-in user's role; 401 without a user (Chainlit running without sign-in: these
    pages show warehouse figures, never public)."""
    from fastapi import HTTPException

    if user is None:
        raise HTTPException(status_code=401, detail=f"Sign in to see {what}")
    return (getattr(user, "metadata", None) or {}).get("role")


def _plotly_response() -> Any:
    """plotly.js for a page served by the UI, cached by the browser for a day."""
    from fastapi.responses import Response

    from tools.dashboard.page import plotly_js

    return Response(
        plotly_js(),
        media_type="text/javascript",
        headers={"Cache-Control": "private, max-age=86400", **_NOSNIFF},
    )
