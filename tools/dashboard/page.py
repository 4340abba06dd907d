"""The dashboard as one HTML page: tiles, charts and tables, with plotly.js inline or same-origin.

Everything the data supplies is escaped; figure JSON sits in `application/json` script blocks
with `<` escaped, so a source name or error message cannot close a tag and run as script.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Final

import plotly.io as pio

from tools.dashboard.data import DashboardData
from tools.dashboard.figures import Panel, build_panels
from tools.dashboard.health import PipelineHealth, summarize

_CSS: Final = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f5f6f8;
color:#1f2933}
header{background:#1f2933;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:20px} header p{margin:4px 0 0;font-size:13px;color:#cbd2d9}
main{padding:16px 24px;max-width:1400px;margin:auto}
.note{padding:14px 18px;border-radius:6px;margin:12px 0;font-size:15px}
.note.info{background:#e3f2fd;border-left:5px solid #1565c0}
.note.bad{background:#ffebee;border-left:5px solid #c62828}
.note.good{background:#e8f5e9;border-left:5px solid #2e7d32}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:12px;
margin:12px 0}
.tile{background:#fff;border-radius:6px;padding:12px 14px;box-shadow:0 1px 2px #0002}
.tile .v{font-size:24px;font-weight:600} .tile .l{font-size:12px;color:#616e7c}
.tile.bad .v{color:#c62828} .tile.good .v{color:#2e7d32}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:12px}
.card{background:#fff;border-radius:6px;padding:8px 12px;box-shadow:0 1px 2px #0002;
overflow-x:auto}
.card h2{font-size:15px;margin:6px 0} .empty{color:#616e7c;font-size:14px;padding:30px 8px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e4e7eb;vertical-align:top}
.critical{color:#c62828;font-weight:600} .warning{color:#ef6c00}
form{display:flex;gap:10px;align-items:end;flex-wrap:wrap;font-size:13px;margin:8px 0}
form label{display:flex;flex-direction:column;gap:2px}
code{background:#eef0f3;padding:1px 4px;border-radius:3px}
"""

_BOOT: Final = """
document.querySelectorAll('script[data-figure]').forEach(function (node) {
  var spec = JSON.parse(node.textContent);
  Plotly.newPlot(node.getAttribute('data-figure'), spec.data, spec.layout,
                 {responsive: true, displaylogo: false});
});
"""


@functools.cache
def plotly_js() -> str:
    """plotly.js as shipped with the plotly package (about 4.7 MB), read once."""
    from plotly.offline import get_plotlyjs

    return str(get_plotlyjs())


def plotly_script(url: str | None) -> str:
    """The page's plotly.js: a tag loading it from `url` (a server), else inline (a file)."""
    return f'<script src="{_e(url)}"></script>' if url else f"<script>{plotly_js()}</script>"


def write_page(page: str, out: Path) -> Path:
    """Write an HTML page to `out` atomically and return its resolved path."""
    out = out.expanduser().resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)  # a browser reloading the file never sees half a page
    return out


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _figure_json(panel: Panel) -> str:
    text = pio.to_json(panel.figure, validate=False, pretty=False)
    # inside <script>, "</script>" or "<!--" in a label would end the block: never emit "<"
    return str(text).replace("<", "\\u003c")


def _tile(label: str, value: str, tone: str = "") -> str:
    inner = f'<div class="v">{_e(value)}</div><div class="l">{_e(label)}</div>'
    return f'<div class="tile {tone}">{inner}</div>'


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} s"


def _tiles(health: PipelineHealth, data: DashboardData) -> str:
    critical = sum(a.severity == "critical" for a in health.open_alerts)
    stale = sum(f.stale for f in health.freshness)
    tiles = [
        _tile("runs", f"{health.runs:,}"),
        _tile("failed runs", f"{health.failed_runs:,}", "bad" if health.failed_runs else "good"),
        _tile("records in", f"{health.records_in:,}"),
        _tile("accepted", f"{health.accepted:,}"),
        _tile(
            f"quarantined ({health.quarantine_rate:.1%})",
            f"{health.quarantined:,}",
            "bad" if health.quarantine_rate > 0.05 else "",
        ),
        _tile(
            "duration p50 / p95",
            f"{_seconds(health.duration_p50_s)} / {_seconds(health.duration_p95_s)}",
        ),
        _tile(
            "quality checks failing",
            f"{len(health.quality_failing)} of {health.quality_checks}",
            "bad" if health.quality_failing else "good",
        ),
        _tile(
            "open alerts (critical)",
            f"{len(health.open_alerts)} ({critical})",
            "bad" if critical else ("good" if not health.open_alerts else ""),
        ),
        _tile("stale tables", f"{stale} of {len(health.freshness)}", "bad" if stale else "good"),
    ]
    return f'<section class="tiles">{"".join(tiles)}</section>'


def _table(headers: Sequence[str], rows: Iterable[Sequence[object]], classes: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{_e('' if v is None else v)}</td>" for v in row) + "</tr>"
        for row in rows
    )
    return f'<table class="{classes}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _card(title: str, inner: str) -> str:
    return f'<div class="card"><h2>{_e(title)}</h2>{inner}</div>'


def _alerts(health: PipelineHealth) -> str:
    if not health.open_alerts:
        return _card("Open alerts", '<div class="empty">No open alerts.</div>')
    rows = "".join(
        f'<tr><td class="{_e(a.severity)}">{_e(a.severity)}</td><td>{_e(a.raised_at[:16])}</td>'
        f"<td>{_e(a.source)}</td><td>{_e(a.message)}</td><td>{_e(a.run_id or '')}</td></tr>"
        for a in health.open_alerts[:50]
    )
    more = len(health.open_alerts) - 50
    tail = f"<p>and {more} more</p>" if more > 0 else ""
    head = "".join(
        f"<th>{h}</th>" for h in ("severity", "raised (UTC)", "source", "message", "run")
    )
    return _card(
        f"Open alerts ({len(health.open_alerts)})",
        f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>{tail}",
    )


def _quality_table(data: DashboardData) -> str:
    failing = [q for q in data.quality if not q.passed]
    if not data.quality:
        return _card("Quality checks over threshold", '<div class="empty">No checks ran.</div>')
    if not failing:
        return _card("Quality checks over threshold",
                     f'<div class="empty">All {len(data.quality)} checks pass.</div>')  # fmt: skip
    rows = [
        (q.entity, q.check, q.dimension, q.severity, f"{q.flagged:,} of {q.rows:,}",
         f"{q.share:.2%}", f"{q.threshold:.0%}")
        for q in failing
    ]  # fmt: skip
    return _card(
        "Quality checks over threshold",
        _table(("table", "check", "dimension", "severity", "flagged", "share", "limit"), rows),
    )


def _models(health: PipelineHealth) -> str:
    if not health.models:
        return _card("Model health", '<div class="empty">No model trained yet: run '
                     "<code>encore train all</code>.</div>")  # fmt: skip
    rows = [
        (m.name, m.champion or "none promoted", (m.trained_at or "")[:16],
         f"{m.holdout_metric} {m.holdout_value:.4g}" if m.holdout_value is not None else "",
         m.drift, m.drift_detail)
        for m in health.models
    ]  # fmt: skip
    headers = ("model", "champion", "trained (UTC)", "holdout", "drift", "detail")
    return _card("Model health", _table(headers, rows))


def _freshness_table(health: PipelineHealth) -> str:
    rows = [
        (f.table, (f.last_load or "never")[:16], f.via,
         "" if f.age_hours is None else f"{f.age_hours:,.1f}", "stale" if f.stale else "fresh")
        for f in health.freshness
    ]  # fmt: skip
    return _card("Freshness", _table(("table", "last load", "via", "hours ago", "state"), rows))


def _failed_runs(health: PipelineHealth) -> str:
    if not health.recent_errors:
        return ""
    items = "".join(f"<li>{_e(line)}</li>" for line in health.recent_errors)
    return _card("Latest failed runs", f"<ul>{items}</ul>")


def _filters_form(data: DashboardData, action: str) -> str:
    # the window's end is exclusive: a range "until" a day ends at the next midnight
    last_day = (data.filters.end - timedelta(microseconds=1)).date()
    options = ['<option value="">every source</option>'] + [
        f'<option value="{_e(s)}"{" selected" if s == data.filters.source else ""}>{_e(s)}</option>'
        for s in data.sources
    ]
    return (
        f'<form method="get" action="{_e(action)}">'
        f'<label>from<input type="date" name="since" value="{data.filters.start:%Y-%m-%d}"></label>'
        f'<label>to<input type="date" name="until" value="{last_day:%Y-%m-%d}"></label>'
        f'<label>source<select name="source">{"".join(options)}</select></label>'
        '<button type="submit">Apply</button></form>'
    )


def _panel(panel: Panel) -> str:
    if panel.figure is None:
        return _card(panel.title, f'<div class="empty">{_e(panel.empty_note)}</div>')
    div = f"fig-{panel.key}"
    return (
        f'<div class="card"><div id="{div}"></div>'
        f'<script type="application/json" data-figure="{div}">{_figure_json(panel)}</script></div>'
    )


def render_html(
    data: DashboardData, *, plotlyjs_url: str | None = None, form_action: str | None = None
) -> str:
    """The page. plotly.js is inlined unless `plotlyjs_url` (a same-origin path) is given;
    `form_action` adds the date and source filter form (the live page)."""
    health = summarize(data)
    title = "Encore pipeline health"
    header = (
        f"<header><h1>{title}</h1><p>{_e(data.filters.describe())} · generated "
        f"{data.generated_at:%Y-%m-%d %H:%M:%S} · {_e(data.warehouse)}</p></header>"
    )
    form = _filters_form(data, form_action) if form_action and not data.problem else ""
    if data.problem:
        body = f'<div class="note bad">{_e(data.problem)}</div>'
    else:
        healthy = health.message.startswith("Healthy")
        tone = "info" if not data.runs else ("good" if healthy else "bad")
        guidance = (
            f'<div class="note info"><b>No runs yet</b> — {_e(health.message)}</div>'
            if data.empty
            else f'<div class="note {tone}">{_e(health.message)}</div>'
        )
        panels = "".join(_panel(p) for p in build_panels(data))
        tables = "".join(
            (_alerts(health), _quality_table(data), _freshness_table(health), _models(health),
             _failed_runs(health))
        )  # fmt: skip
        body = f'{guidance}{_tiles(health, data)}<section class="grid">{panels}{tables}</section>'
    script = plotly_script(plotlyjs_url)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{_CSS}</style>{script}</head>"
        f"<body>{header}<main>{form}{body}</main><script>{_BOOT}</script></body></html>"
    )


def write_dashboard(data: DashboardData, out: Path) -> Path:
    """Write the self-contained page (plotly.js inline: it opens offline) and return its path."""
    return write_page(render_html(data), out)
