"""The pipeline-health and data-quality dashboard (requirement 5.2) as plain typed functions.

    collect(settings, Filters.last(30, source))  -> DashboardData   (data.py)
    summarize(data)                               -> PipelineHealth  (health.py, the tiles)
    build_panels(data)                            -> plotly figures  (figures.py)
    render_html(data) / write_dashboard(data, p)  -> one HTML page   (page.py)

`encore dashboard` writes the page, the chat UI serves it at /dashboard, the pipelines MCP
server answers `pipeline_health`; at scale the CloudWatch dashboard is
`pipelines.monitoring.cloudwatch_dashboard`. Names load on first use, so the MCP server's
`pipeline_health` does not import plotly.

The analytics dashboard (venue ranking, sales predictions, artist trends, filters, drill-down)
is `analytics_data.py` (what it reads, as the caller's role), `analytics_figures.py`,
`analytics.py` (the page and its JSON views) and `analytics_script.py` (the page's script);
`encore dashboard analytics` writes it, the chat UI serves it at /analytics.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tools.dashboard.data import DashboardData, Filters, collect
    from tools.dashboard.figures import Panel, build_panels
    from tools.dashboard.health import PipelineHealth, pipeline_health, summarize
    from tools.dashboard.page import render_html, write_dashboard

_HOMES = {
    "DashboardData": "data",
    "Filters": "data",
    "collect": "data",
    "Panel": "figures",
    "build_panels": "figures",
    "PipelineHealth": "health",
    "pipeline_health": "health",
    "summarize": "health",
    "render_html": "page",
    "write_dashboard": "page",
}

__all__ = [
    "DashboardData",
    "Filters",
    "Panel",
    "PipelineHealth",
    "build_panels",
    "collect",
    "pipeline_health",
    "render_html",
    "summarize",
    "write_dashboard",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"tools.dashboard.{home}"), name)
