"""What the analytics dashboard shows, read through the tools layer as the caller's role.

Totals, sales over time, artist trends and the channel mix are semantic queries (the guard runs
them with the caller's role, row cap and audit); the venue ranking is `venue_ranking` (the
ranking model); predictions are `predict_concerts` for the scheduled concerts `upcoming_concerts`
finds. A section the role may not see carries a note instead of failing the page.

Venues are drilled into by id, never by name: two venues may share a name (a "Paramount
Theatre" in several cities), and each drill-down shows the name with the city.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import partial
from typing import Any, Final, Literal, TypeVar

from core.entities import match_name
from core.errors import QueryRefusedError, ValidationError
from core.warehouse import reading
from models.registry import ModelRegistry
from tools.context import ToolContext
from tools.insights.forecast import SalesPrediction, predict_concerts
from tools.insights.profile import upcoming_concerts
from tools.insights.ranking import VenueRanking, venue_ranking
from tools.query import vocabulary
from tools.query.runner import guarded_query
from tools.query.semantic import compile_semantic
from tools.query.semantic_model import Filter, OrderBy, SemanticQuery, TimeRange, load_model
from tools.results import QueryResult, Table

DetailKind = Literal["venue", "artist"]
T = TypeVar("T")

TOP_ARTISTS: Final = 8
RANKED_VENUES: Final = 15
PREDICTED_CONCERTS: Final = 60
MONTHS_CAP: Final = 1200
DETAIL_ROWS: Final = 500
_COMPLETED: Final = Filter(field="status", op="=", value="completed")
_FORECAST_MODEL: Final = "sales_forecast"


@dataclass(frozen=True)
class AnalyticsFilters:
    """The slice every section shows: event dates (inclusive), place, genre and artist."""

    date_from: date | None = None
    date_to: date | None = None
    city: str | None = None
    state: str | None = None
    genre: str | None = None
    artist: str | None = None

    def __post_init__(self) -> None:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValidationError(
                f"the date range is empty: from {self.date_from} is after to {self.date_to}",
                field="date_from",
            )
        for name in ("city", "state", "genre", "artist"):  # blank form fields mean "any"
            value = getattr(self, name)
            object.__setattr__(self, name, value.strip() if value and value.strip() else None)

    def describe(self) -> str:
        dates = f"{self.date_from or 'the first concert'} to {self.date_to or 'the last'}"
        picked = [f"{k} {v}" for k, v in self.params().items() if k not in ("from", "to")]
        return f"events from {dates}" + (", " + ", ".join(picked) if picked else "")

    def params(self) -> dict[str, str]:
        """The filters as URL query parameters (the names the page and the CLI use)."""
        values = {"from": self.date_from, "to": self.date_to, "city": self.city,
                  "state": self.state, "genre": self.genre, "artist": self.artist}  # fmt: skip
        return {k: str(v) for k, v in values.items() if v is not None}

    def semantic(self, *, without: tuple[str, ...] = ()) -> list[Filter]:
        """The place, genre and artist filters as semantic-layer filters."""
        return [
            Filter(field=name, op="=", value=getattr(self, name))
            for name in ("city", "state", "genre", "artist")
            if getattr(self, name) and name not in without
        ]

    def time_range(self) -> TimeRange | None:
        if not (self.date_from or self.date_to):
            return None
        return TimeRange(start=self.date_from, end=self.date_to)


@dataclass(frozen=True)
class Venue:
    """A venue as the page names it: its name with its city, so namesakes tell apart."""

    venue_id: str
    name: str
    city: str | None = None
    state: str | None = None

    def label(self) -> str:
        place = ", ".join(p for p in (self.city, self.state) if p)
        return f"{self.name} ({place})" if place else self.name


@dataclass
class Detail:
    """One venue's or artist's concerts and months, within the filters (the drill-down).
    `name` is the artist's name or the venue's id; `title` what the page heads it with."""

    kind: DetailKind
    name: str
    concerts: Table
    months: Table
    truncated: bool = False
    title: str = ""


@dataclass
class AnalyticsData:
    """Everything the analytics page draws for one role and one set of filters."""

    filters: AnalyticsFilters
    role: str
    generated_at: datetime
    warehouse: str
    problem: str | None = None
    """Why nothing could be read (no warehouse yet); the page then shows only this."""
    totals: dict[str, Any] = field(default_factory=dict)
    months: Table | None = None
    artists: Table | None = None
    artist_months: Table | None = None
    channels: Table | None = None
    ranking: VenueRanking | None = None
    predictions: list[SalesPrediction] = field(default_factory=list)
    prediction_venues: dict[str, Venue] = field(default_factory=dict)
    """Concert id -> its venue, so a predicted concert opens the right venue."""
    notes: dict[str, str] = field(default_factory=dict)
    """Section -> why it is empty or partial (refused for the role, nothing matches, ...)."""
    options: dict[str, list[str]] = field(default_factory=dict)
    details: dict[str, Detail] = field(default_factory=dict)
    """Drill-downs embedded in the page, by `detail_key` (the written file has no server)."""


def detail_key(kind: DetailKind, name: str) -> str:
    """The key of a drill-down: the artist's name or the venue's id, in lower case."""
    return f"{kind}:{name.lower()}"


def _semantic(
    ctx: ToolContext,
    measures: list[str],
    dimensions: list[str],
    filters: list[Filter],
    time_range: TimeRange | None,
    *,
    order: list[OrderBy] | None = None,
    limit: int = MONTHS_CAP,
) -> QueryResult:
    """`semantic_query` without its per-value name lookup: every name here is already the
    warehouse's (`resolve_filters`, or read from a result), and a page runs several queries."""
    query = SemanticQuery(measures=measures, dimensions=dimensions, filters=filters,
                          time_range=time_range, order_by=order or [], limit=limit)  # fmt: skip
    sql = compile_semantic(query, "duckdb", load_model())
    return guarded_query(ctx, sql, kind="semantic", max_rows=limit, aggregated=True)


def totals(ctx: ToolContext, filters: AnalyticsFilters) -> dict[str, Any]:
    """Tickets, gross, concerts, sell-through and average price of completed concerts."""
    measures = ["tickets_sold", "gross_revenue", "concerts", "sell_through", "avg_ticket_price"]
    table = _semantic(ctx, measures, [], [*filters.semantic(), _COMPLETED], filters.time_range())
    return table.records()[0] if table.rows else dict.fromkeys(measures)


def sales_by_month(ctx: ToolContext, filters: AnalyticsFilters) -> Table:
    """Tickets, gross and concerts per month of completed concerts, oldest first."""
    return _semantic(ctx, ["tickets_sold", "gross_revenue", "concerts"], ["month"],
                     [*filters.semantic(), _COMPLETED], filters.time_range(),
                     order=[OrderBy(field="month", descending=False)])  # fmt: skip


def top_artists(ctx: ToolContext, filters: AnalyticsFilters, n: int = TOP_ARTISTS) -> Table:
    """The artists selling the most tickets in the slice."""
    return _semantic(ctx, ["tickets_sold", "gross_revenue", "concerts"], ["artist", "genre"],
                     [*filters.semantic(), _COMPLETED], filters.time_range(), limit=n)  # fmt: skip


def artist_months(ctx: ToolContext, filters: AnalyticsFilters, artists: list[str]) -> Table:
    """Tickets and gross per month for each of `artists`."""
    if not artists:
        return Table(columns=["month", "artist", "tickets_sold", "gross_revenue"])
    wanted = Filter(field="artist", op="in", value=artists)
    return _semantic(ctx, ["tickets_sold", "gross_revenue"], ["month", "artist"],
                     [*filters.semantic(without=("artist",)), wanted, _COMPLETED],
                     filters.time_range(),
                     order=[OrderBy(field="month", descending=False)])  # fmt: skip


def channel_mix(ctx: ToolContext, filters: AnalyticsFilters) -> Table:
    """Tickets and gross of ticket transactions by sales channel (partners see their own)."""
    return _semantic(ctx, ["tickets_sold", "gross_revenue"], ["channel"], filters.semantic(),
                     filters.time_range())  # fmt: skip


def ranked_venues(
    ctx: ToolContext, filters: AnalyticsFilters, limit: int = RANKED_VENUES
) -> VenueRanking:
    """The ranking model's venues in the filters' city, state and genre (it ranks all history)."""
    return venue_ranking(ctx, city=filters.city, state=filters.state, genre=filters.genre,
                         limit=limit)  # fmt: skip


# Predictions change only with the data or the champion; a server keeps them per warehouse file
# version and model version, so a filter change predicts only concerts not predicted yet (and the
# prediction log, which `encore drift` scores, gets each concert once per data version).
_PREDICTED: dict[tuple[str, int, str], dict[str, SalesPrediction]] = {}
_PREDICTED_LOCK = threading.Lock()


def predictions(
    ctx: ToolContext, filters: AnalyticsFilters, limit: int = PREDICTED_CONCERTS
) -> list[SalesPrediction]:
    """Forecasts (with 80% intervals and low-confidence flags) for the next scheduled concerts
    in the filters, soonest first."""
    upcoming = upcoming_concerts(
        ctx, artist=filters.artist, city=filters.city, state=filters.state,
        genres=[filters.genre] if filters.genre else None,
        date_from=filters.date_from.isoformat() if filters.date_from else None,
        date_to=filters.date_to.isoformat() if filters.date_to else None, limit=limit,
    )  # fmt: skip
    ids = [str(row[0]) for row in upcoming.rows]
    if not ids:
        return []
    champion = ModelRegistry(ctx.settings).current(_FORECAST_MODEL)
    if champion is None:
        raise LookupError("no sales forecaster trained yet: run `encore train sales_forecast`")
    path = ctx.settings.warehouse_file.resolve()
    key = (str(path), path.stat().st_mtime_ns, champion.version)
    with _PREDICTED_LOCK:
        known = _PREDICTED.setdefault(key, {})
        for old in [k for k in _PREDICTED if k[0] == key[0] and k != key]:
            del _PREDICTED[old]
        missing = [cid for cid in ids if cid not in known]
    if missing:
        made = predict_concerts(ctx, concert_ids=missing).predictions
        with _PREDICTED_LOCK:
            known.update({str(p.concert_id): p for p in made})
    return [known[cid] for cid in ids if cid in known]


def options(ctx: ToolContext) -> dict[str, list[str]]:
    """The names the filter fields offer."""
    kinds = {"city": "cities", "state": "states", "genre": "genres", "artist": "artists"}
    return {name: vocabulary(ctx, kind).names for name, kind in kinds.items()}  # type: ignore[arg-type]


_NAME_CUTOFF: Final = 90.0
"""As strict as the semantic layer's: a filter resolved wrongly changes totals silently."""


def resolve_filters(
    ctx: ToolContext, filters: AnalyticsFilters, names: dict[str, list[str]] | None = None
) -> AnalyticsFilters:
    """The filters with the warehouse's spelling of each name (case and small typos); a name
    matching nothing raises ValidationError with the close ones. `names`: `options(ctx)`."""
    names = names if names is not None else options(ctx)
    fixed: dict[str, Any] = {}
    for field_name in ("city", "state", "genre", "artist"):
        text = getattr(filters, field_name)
        if text:
            known = names[field_name]
            fixed[field_name] = known[match_name(field_name, text, known, cutoff=_NAME_CUTOFF)]
    return replace(filters, **fixed)


def _venues(ctx: ToolContext, where: str, params: list[Any]) -> list[Venue]:
    """Venues by id or name. Names and cities are what every role's policy shows."""
    sql = f"SELECT venue_id, name, city, state FROM venues WHERE {where} ORDER BY city, venue_id"
    with reading(ctx.settings) as con:
        rows = con.execute(sql, params).fetchall()
    return [Venue(str(i), str(n), c, s) for i, n, c, s in rows]


def venues_by_id(ctx: ToolContext, ids: list[str]) -> dict[str, Venue]:
    if not ids:
        return {}
    return {v.venue_id: v for v in _venues(ctx, "list_contains(?::VARCHAR[], venue_id)", [ids])}


def concert_venues(ctx: ToolContext, concert_ids: list[str]) -> dict[str, Venue]:
    """Concert id -> its venue."""
    if not concert_ids:
        return {}
    sql = (
        "SELECT c.concert_id, v.venue_id, v.name, v.city, v.state FROM concerts c "
        "JOIN venues v USING (venue_id) WHERE list_contains(?::VARCHAR[], c.concert_id)"
    )
    with reading(ctx.settings) as con:
        rows = con.execute(sql, [concert_ids]).fetchall()
    return {str(c): Venue(str(i), str(n), city, st) for c, i, n, city, st in rows}


def resolve(ctx: ToolContext, kind: DetailKind, text: str) -> str:
    """The artist's name (small typos corrected) or the venue's id a user means. A venue is
    given by id; a name shared by several venues raises ValidationError naming each one."""
    if kind == "venue" and (hit := venues_by_id(ctx, [text.strip()])):
        return next(iter(hit))
    names = vocabulary(ctx, "venues" if kind == "venue" else "artists").names
    name = names[match_name(kind, text, names)]
    if kind == "artist":
        return name
    found = _venues(ctx, "lower(name) = lower(?)", [name])
    if len(found) > 1:
        listed = "; ".join(f"{v.label()}: id {v.venue_id}" for v in found)
        raise ValidationError(
            f"{len(found)} venues are called {name!r}: {listed}; open one by its id",
            field="name",
            suggestions=[v.venue_id for v in found],
        )
    if not found:  # the vocabulary knew it, the table no longer does
        raise ValidationError(f"no venue named {text!r}", field="name")
    return found[0].venue_id


_DETAIL_COLUMNS: Final = {
    "venue": ["event_date", "artist", "status"],
    "artist": ["event_date", "venue", "venue_id", "city", "status"],
}
_DETAIL_KEY: Final = {"venue": "venue_id", "artist": "artist"}
_DETAIL_MEASURES: Final = ["tickets_sold", "capacity", "sell_through", "gross_revenue"]


def details(
    ctx: ToolContext, filters: AnalyticsFilters, kind: DetailKind, names: list[str]
) -> dict[str, Detail]:
    """Drill-downs for venues (by id) or artists (by the warehouse's name): their concerts,
    newest first, and their completed sales per month, within the filters. Two queries for all
    of them; the role's row cap applies (`truncated` says when it cut the concerts)."""
    if not names:
        return {}
    key = _DETAIL_KEY[kind]
    # drilling into an artist replaces the artist filter; a venue has no filter of its own
    base = filters.semantic(without=("artist",) if kind == "artist" else ())
    wanted = [*base, Filter(field=key, op="in", value=names)]
    concerts = _semantic(ctx, _DETAIL_MEASURES, [key, *_DETAIL_COLUMNS[kind]], wanted,
                         filters.time_range(), order=[OrderBy(field="event_date")],
                         limit=min(DETAIL_ROWS * len(names), 10_000))  # fmt: skip
    months = _semantic(ctx, ["tickets_sold", "gross_revenue", "sell_through"], [key, "month"],
                       [*wanted, _COMPLETED], filters.time_range(),
                       order=[OrderBy(field="month", descending=False)])  # fmt: skip
    venues = venues_by_id(ctx, names) if kind == "venue" else {}
    found: dict[str, Detail] = {}
    for name in names:
        venue = venues.get(name)
        found[detail_key(kind, name)] = Detail(
            kind,
            name,
            _rows_of(concerts, key, name),
            _rows_of(months, key, name),
            concerts.truncated,
            title=venue.label() if venue else name,
        )
    return found


def _rows_of(table: Table, kind: str, name: str) -> Table:
    """The rows of one name, without the name column."""
    at = table.columns.index(kind)
    rows = [r[:at] + r[at + 1 :] for r in table.rows if str(r[at]).lower() == name.lower()]
    return Table(columns=[c for c in table.columns if c != kind], rows=rows)


def guarded(notes: dict[str, str], section: str, read: Callable[[], T], empty: T) -> T:
    """`read()`, or `empty` with the reason in `notes` when the role may not see the section,
    a filter names nothing, or a model is missing."""
    try:
        return read()
    except QueryRefusedError as exc:
        notes[section] = f"Not available to your role: {exc}"
    except ValidationError as exc:
        notes[section] = str(exc)
    except LookupError as exc:
        notes[section] = str(exc)[0].upper() + str(exc)[1:]
    return empty


def collect_analytics(
    ctx: ToolContext, filters: AnalyticsFilters, *, embed_details: bool = False
) -> AnalyticsData:
    """Every section for the caller's role; `embed_details` adds the drill-downs of the ranked
    venues and the top artists (for a page with no server to ask). A missing warehouse gives
    `problem`, never an exception."""
    settings = ctx.settings
    data = AnalyticsData(filters, ctx.role, datetime.now(), str(settings.warehouse_file))
    if not settings.warehouse_file.exists():
        data.problem = (
            f"No warehouse at {settings.warehouse_file} yet. Build one with `encore demo` "
            "(or `encore generate`)."
        )
        return data
    notes = data.notes
    data.options = options(ctx)
    try:
        filters = resolve_filters(ctx, filters, data.options)
    except ValidationError as exc:
        notes["filters"] = str(exc)  # every section would say the same: say it once
        return data
    data.filters = filters
    data.totals = guarded(notes, "totals", lambda: totals(ctx, filters), {})
    data.months = guarded(notes, "months", lambda: sales_by_month(ctx, filters), None)
    data.artists = guarded(notes, "artists", lambda: top_artists(ctx, filters), None)
    names = [str(r[0]) for r in data.artists.rows] if data.artists else []
    data.artist_months = guarded(notes, "artists", lambda: artist_months(ctx, filters, names), None)
    data.channels = guarded(notes, "channels", lambda: channel_mix(ctx, filters), None)
    data.ranking = guarded(notes, "ranking", lambda: ranked_venues(ctx, filters), None)
    data.predictions = guarded(notes, "predictions", lambda: predictions(ctx, filters), [])
    data.prediction_venues = concert_venues(
        ctx, [p.concert_id for p in data.predictions if p.concert_id]
    )
    if embed_details:
        venues = [r.venue_id for r in data.ranking.rows] if data.ranking else []
        detail_lists: tuple[tuple[DetailKind, list[str]], ...] = (
            ("venue", venues),
            ("artist", names),
        )
        for kind, listed in detail_lists:
            empty: dict[str, Detail] = {}
            data.details.update(
                guarded(
                    notes, f"{kind}_details", partial(details, ctx, filters, kind, listed), empty
                )
            )
    return data
