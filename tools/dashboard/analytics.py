"""The analytics dashboard as one HTML page: venue ranking, sales predictions, artist trends,
filters and drill-down, for promoters, venue managers and analysts.

    collect_analytics(ctx, AnalyticsFilters(...))  -> AnalyticsData   (analytics_data.py)
    build_view(data) / build_detail(detail)        -> JSON-able dicts (what the page draws)
    render_analytics(data, endpoint=...)           -> the page
    write_analytics(data, path)                    -> a self-contained file (`encore dashboard
                                                      analytics`)

The page draws from one JSON view. In the chat UI (`/analytics`) a filter change or a click on a
venue or artist asks `/analytics/data` for a new view or a drill-down, so every number comes from
queries run as the signed-in user's role, and the page stays small whatever the warehouse size.
A written file has no server: its filters are the command's options, and it carries the
drill-downs of the venues and artists it lists. Data text reaches the page only as JSON (with
`<` escaped) and is put in the DOM with `textContent`, never as markup.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from plotly.io.json import to_json_plotly

from tools.dashboard.analytics_data import AnalyticsData, Detail, Venue
from tools.dashboard.analytics_figures import build_panels, detail_months
from tools.dashboard.analytics_script import SCRIPT
from tools.dashboard.figures import Panel
from tools.dashboard.page import _CSS, plotly_script, write_page
from tools.insights.forecast import SalesPrediction
from tools.insights.ranking import VenueRanking
from tools.results import Table

TITLE: Final = "Encore analytics"
_MORE_CSS: Final = """
#analytics a[data-kind]{color:#1565c0;text-decoration:none;cursor:pointer}
#analytics a[data-kind]:hover{text-decoration:underline}
tr.low td{background:#fff3f3} .flag{color:#c62828;font-weight:600}
#status{font-size:13px;color:#616e7c;min-height:18px}
#detail{margin-top:12px} #detail .card{border-left:5px solid #1565c0}
.wide{grid-column:1/-1} fieldset{border:0;padding:0;margin:0;display:contents}
"""


def _money(value: Any) -> str:
    return "–" if value is None else f"${float(value):,.0f}"


def _count(value: Any) -> str:
    return "–" if value is None else f"{int(value):,}"


def _share(value: Any) -> str:
    return "–" if value is None else f"{float(value):.0%}"


def _panel(panel: Panel) -> dict[str, Any]:
    figure = panel.figure.to_plotly_json() if panel.figure is not None else None
    return {"title": panel.title, "figure": figure, "note": panel.empty_note}


def _table(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    links: dict[int, str] | None = None,
    flagged: Sequence[bool] = (),
    targets: Mapping[int, Sequence[str | None]] | None = None,
) -> dict[str, Any]:
    """A table for the page: display text, the columns that drill down (index -> kind), what
    each row's link opens where it is not the text (a venue's id), and the rows to highlight."""
    shown = targets or {}
    return {
        "columns": list(columns),
        "rows": [["" if v is None else str(v) for v in row] for row in rows],
        "links": {str(k): v for k, v in (links or {}).items()},
        "targets": {str(k): ["" if t is None else str(t) for t in v] for k, v in shown.items()},
        "flagged": [i for i, f in enumerate(flagged) if f],
    }


def _tiles(data: AnalyticsData) -> list[dict[str, str]]:
    t = data.totals
    low = sum(p.low_confidence for p in data.predictions)
    return [
        {"key": "tickets_sold", "label": "tickets sold", "value": _count(t.get("tickets_sold"))},
        {"key": "gross_revenue", "label": "gross", "value": _money(t.get("gross_revenue"))},
        {"key": "concerts", "label": "completed concerts", "value": _count(t.get("concerts"))},
        {"key": "sell_through", "label": "sell-through", "value": _share(t.get("sell_through"))},
        {"key": "avg_ticket_price", "label": "average ticket",
         "value": "–" if t.get("avg_ticket_price") is None else f"${t['avg_ticket_price']:,.2f}"},
        {"key": "predicted", "label": f"predicted tickets, next {len(data.predictions)} shows",
         "value": f"{sum(p.tickets_sold for p in data.predictions):,}"},
        {"key": "low_confidence", "label": "low-confidence predictions", "value": str(low),
         "tone": "bad" if low else "good"},
    ]  # fmt: skip


def _ranking_table(ranking: VenueRanking | None) -> dict[str, Any]:
    rows = [
        (r.rank, r.venue, r.city, r.state, _count(r.capacity), f"{r.score:.1f}",
         _share(r.factors["attendance"]["value"]), _money(r.factors["revenue"]["value"]),
         int(r.factors["frequency"]["value"]), f"{r.factors['trend']['value']:.2f}")
        for r in (ranking.rows if ranking else [])
    ]  # fmt: skip
    columns = ("rank", "venue", "city", "state", "capacity", "score", "sell-through",
               "gross per show", "shows last year", "trend")  # fmt: skip
    ids = [r.venue_id for r in (ranking.rows if ranking else [])]
    return _table(columns, rows, {1: "venue"}, targets={1: ids})


def _predictions_table(
    predictions: Sequence[SalesPrediction], venues: dict[str, Venue]
) -> dict[str, Any]:
    places = [venues.get(p.concert_id or "") for p in predictions]
    rows = [
        (p.date, p.artist, v.label() if v else p.venue, f"{p.tickets_sold:,}",
         f"{p.tickets_low:,}–{p.tickets_high:,}", _count(p.capacity), _money(p.gross),
         f"{p.confidence:.2f}", "low confidence" if p.low_confidence else "",
         "yes" if p.cold_start else "")
        for p, v in zip(predictions, places, strict=True)
    ]  # fmt: skip
    columns = ("date", "artist", "venue", "tickets", "80% interval", "capacity", "gross",
               "confidence", "flag", "cold start")  # fmt: skip
    targets = {2: [v.venue_id if v else None for v in places]}
    return _table(columns, rows, {1: "artist", 2: "venue"}, [p.low_confidence for p in predictions],
                  targets)  # fmt: skip


def _artists_table(artists: Table | None) -> dict[str, Any]:
    rows = [
        (r["artist"], r["genre"], _count(r["tickets_sold"]), _money(r["gross_revenue"]),
         _count(r["concerts"]))
        for r in (artists.records() if artists else [])
    ]  # fmt: skip
    return _table(("artist", "genre", "tickets", "gross", "concerts"), rows, {0: "artist"})


def _results(record: dict[str, Any]) -> tuple[str, str, str, str]:
    """Tickets, capacity, sell-through and gross; a concert still to come has no results yet."""
    done = record["status"] == "completed"
    return (
        _count(record["tickets_sold"]) if done else "–",
        _count(record["capacity"]),
        _share(record["sell_through"]) if done else "–",
        _money(record["gross_revenue"]) if done else "–",
    )


def build_detail(detail: Detail) -> dict[str, Any]:
    """One drill-down as the page draws it: a chart of its months and a table of its concerts."""
    other = "artist" if detail.kind == "venue" else "venue"
    records = detail.concerts.records()
    rows = [
        (r["event_date"], r[other], *([r["city"]] if other == "venue" else []), r["status"],
         *_results(r))
        for r in records
    ]  # fmt: skip
    columns = ("date", other, *(["city"] if other == "venue" else []), "status", "tickets",
               "capacity", "sell-through", "gross")  # fmt: skip
    completed = [r for r in records if r["status"] == "completed"]
    figure = detail_months(detail)
    targets = {1: [r["venue_id"] for r in records]} if other == "venue" else {}
    return {
        "kind": detail.kind,
        "name": detail.title or detail.name,
        "key": detail.name,
        "summary": (
            f"{len(records):,} concerts ({len(completed):,} completed), "
            f"{sum(int(r['tickets_sold'] or 0) for r in completed):,} tickets sold, "
            f"{_money(sum(float(r['gross_revenue'] or 0) for r in completed))} gross"
            + (" (the role's row limit cut the list)" if detail.truncated else "")
        ),
        "figure": figure.to_plotly_json() if figure is not None else None,
        "table": _table(columns, rows, {1: other}, targets=targets),
    }


def build_view(data: AnalyticsData) -> dict[str, Any]:
    """Everything the page draws, as JSON-able data."""
    return {
        "filters": data.filters.params(),
        "describe": data.filters.describe(),
        "role": data.role,
        "generated": f"{data.generated_at:%Y-%m-%d %H:%M:%S}",
        "problem": data.problem or data.notes.get("filters"),
        "tiles": [] if data.problem else _tiles(data),
        "panels": {} if data.problem else {p.key: _panel(p) for p in build_panels(data)},
        "tables": {
            "ranking": _ranking_table(data.ranking),
            "predictions": _predictions_table(data.predictions, data.prediction_venues),
            "artists": _artists_table(data.artists),
        },
        "notes": data.notes,
        "details": {key: build_detail(d) for key, d in data.details.items()},
    }


def to_json(value: Any) -> str:
    """JSON for the page or the endpoint (numpy and dates handled as plotly does)."""
    return str(to_json_plotly(value, pretty=False))


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _filters_form(data: AnalyticsData, action: str | None) -> str:
    f, opts = data.filters, data.options

    def select(name: str, label: str) -> str:
        chosen = getattr(f, name)
        items = [f'<option value="">any {_e(label)}</option>'] + [
            f'<option value="{_e(v)}"{" selected" if v == chosen else ""}>{_e(v)}</option>'
            for v in opts.get(name, [])
        ]
        return f'<label>{_e(label)}<select name="{name}">{"".join(items)}</select></label>'

    artists = "".join(f'<option value="{_e(a)}"></option>' for a in opts.get("artist", []))
    disabled = "" if action else " disabled"
    note = "" if action else (
        '<p class="note info">A written page: its filters are the options of '
        "<code>encore dashboard analytics</code> (--from, --to, --city, --state, --genre, "
        "--artist). The chat UI's /analytics page changes them live.</p>"
    )  # fmt: skip
    return (
        f'{note}<form id="filters" method="get" action="{_e(action or "")}">'
        f"<fieldset{disabled}>"
        f'<label>from<input type="date" name="from" value="{f.date_from or ""}"></label>'
        f'<label>to<input type="date" name="to" value="{f.date_to or ""}"></label>'
        f"{select('city', 'city')}{select('state', 'state')}{select('genre', 'genre')}"
        f'<label>artist<input name="artist" list="artist-names" value="{_e(f.artist or "")}" '
        f'placeholder="any artist"></label><datalist id="artist-names">{artists}</datalist>'
        '<button type="submit">Apply</button><button type="button" id="reset">Clear</button>'
        "</fieldset></form>"
    )


_LAYOUT_HTML: Final = """
<div id="status" role="status"></div>
<div id="problem"></div>
<section class="tiles" id="tiles"></section>
<section id="detail"></section>
<section class="grid">
  <div class="card"><div id="panel-months"></div></div>
  <div class="card"><div id="panel-artists"></div></div>
  <div class="card"><div id="panel-ranking"></div></div>
  <div class="card"><h2>Venue ranking</h2><div id="table-ranking"></div></div>
  <div class="card"><div id="panel-predictions"></div></div>
  <div class="card"><div id="panel-channels"></div></div>
  <div class="card wide"><h2>Sales predictions for scheduled concerts</h2>
    <div id="table-predictions"></div></div>
  <div class="card"><h2>Top artists</h2><div id="table-artists"></div></div>
</section>
"""


def render_analytics(
    data: AnalyticsData, *, plotlyjs_url: str | None = None, endpoint: str | None = None
) -> str:
    """The page. plotly.js is inlined unless `plotlyjs_url` (a same-origin path) is given;
    `endpoint` (the live page's JSON path) makes filters and drill-down ask the server."""
    action = endpoint.rsplit("/data", 1)[0] if endpoint else None
    header = (
        f'<header><h1>{TITLE}</h1><p><span id="describe">{_e(data.filters.describe())}</span>'
        f" · role {_e(data.role)} · generated {data.generated_at:%Y-%m-%d %H:%M:%S}"
        f" · {_e(data.warehouse)}</p></header>"
    )
    form = "" if data.problem else _filters_form(data, action)
    script = plotly_script(plotlyjs_url)
    view = to_json(build_view(data)).replace("<", "\\u003c")  # "</script>" in a name stays text
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{TITLE}</title><style>{_CSS}{_MORE_CSS}</style>{script}</head>"
        f'<body>{header}<main id="analytics" data-endpoint="{_e(endpoint or "")}">{form}'
        f"{_LAYOUT_HTML}</main>"
        f'<script type="application/json" id="analytics-view">{view}</script>'
        f"<script>{SCRIPT}</script></body></html>"
    )


def write_analytics(data: AnalyticsData, out: Path) -> Path:
    """Write the self-contained page (plotly.js inline: it opens offline) and return its path."""
    return write_page(render_analytics(data), out)
