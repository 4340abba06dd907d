"""Recommendation tools (4.4): concerts for a fan or stated tastes, similar artists, venues.

Thin wrappers over models/recommend: they parse dates, call the service and return pydantic
results with a display `table`. Every item carries a human `reason`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field

from core.errors import QueryRefusedError, ValidationError
from models.recommend import DEFAULT_RADIUS_KM, NEAR_KM
from tools.context import ToolContext
from tools.query.audit import audited
from tools.query.policy import load_policy
from tools.results import Table


class ConcertRecommendation(BaseModel):
    """One upcoming concert recommended, with why."""

    rank: int
    concert_id: str
    artist: str
    genre: str | None = Field(None, description="the artist's primary genre")
    venue: str
    city: str
    state: str | None
    event_date: str
    price_min: float | None
    score: float = Field(description="relative strength of the match (not a probability)")
    reason: str = Field(description='why, e.g. "because you saw X; in Chicago"')


class ConcertRecommendations(BaseModel):
    """Upcoming concerts for a fan or stated preferences."""

    fan_id: str | None
    items: list[ConcertRecommendation]
    table: Table
    reach: str = Field(description="which venues counted as within reach")


class SimilarArtist(BaseModel):
    rank: int
    artist: str
    genre: str
    popularity: int
    score: float
    reason: str


class SimilarArtists(BaseModel):
    """Artists like the one asked about, with why."""

    artist: str
    items: list[SimilarArtist]
    table: Table


class VenueFit(BaseModel):
    rank: int
    venue: str
    city: str
    state: str | None
    capacity: int
    venue_type: str
    distance_km: float | None = Field(None, description="great-circle km from `near`'s centre")
    score: float
    reason: str


class VenuesForArtist(BaseModel):
    """Venues that fit an artist's draw and markets, with why."""

    artist: str
    items: list[VenueFit]
    table: Table
    reach: str = Field(description="which venues were considered")


class BatchRecommendations(BaseModel):
    """Concert recommendations for many fans; unknown fan ids get an empty list."""

    results: dict[str, list[ConcertRecommendation]]
    table: Table = Field(description="one row per (fan, recommendation)")


_CONCERT_COLUMNS = ["rank", "artist", "venue", "city", "state", "event_date", "price_min", "reason"]


@audited("ticket_sales", "fans", "concerts", "artists", "venues")
def recommend_concerts(
    ctx: ToolContext,
    *,
    fan_id: str | None = None,
    genres: list[str] | None = None,
    artists: list[str] | None = None,
    city: str | None = None,
    state: str | None = None,
    budget: float | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    limit: int = 10,
) -> ConcertRecommendations:
    """Upcoming concerts a fan would like: by fan id (their purchase history) and/or stated
    genres, favourite artists, city/state and budget (max lowest ticket price). Only concerts
    within reach are suggested: same state, or within 150 km of the city. One date per artist.
    Recommendations by fan id are for roles that may see fans by id (not partners).
    """
    if fan_id is not None:
        grant = load_policy().role(ctx.role).grant("fans")
        if grant is None or not grant.allows("fan_id"):
            # a fan's recommendations reveal what they bought: the query policy decides who may
            # look a fan up by id, whichever entrypoint asks (MCP, agent, REST)
            raise QueryRefusedError(
                f"role {ctx.role} may not look up fans by id; ask by genres, artists, city or "
                "state instead",
                role=ctx.role,
            )
    from models.recommend import service  # pandas and SciPy: loaded on first call

    items = service.recommend_concerts(
        ctx.settings,
        fan_id=fan_id,
        genres=genres or [],
        artists=artists or [],
        city=city,
        state=state,
        budget=budget,
        date_from=_date(date_from),
        date_to=_date(date_to),
        limit=_limit(limit),
    )
    models = [ConcertRecommendation(**item) for item in items]
    return ConcertRecommendations(
        fan_id=fan_id,
        items=models,
        table=_table(_CONCERT_COLUMNS, items),
        reach=f"same state as the fan, or within {DEFAULT_RADIUS_KM:.0f} km of their city",
    )


@audited("ticket_sales", "artists", "concerts", "venues")
def similar_artists(ctx: ToolContext, *, artist: str, limit: int = 10) -> SimilarArtists:
    """Artists similar to one: shared ticket buyers, genre, popularity and shared venues."""
    from models.recommend import service  # pandas and SciPy: loaded on first call

    items = service.similar_artists(ctx.settings, artist, limit=_limit(limit))
    return SimilarArtists(
        artist=artist,
        items=[SimilarArtist(**item) for item in items],
        table=_table(["rank", "artist", "genre", "popularity", "reason"], items),
    )


@audited("ticket_sales", "artists", "concerts", "venues")
def venues_for_artist(
    ctx: ToolContext,
    *,
    artist: str,
    city: str | None = None,
    state: str | None = None,
    near: str | None = None,
    within_km: float = NEAR_KM,
    limit: int = 10,
) -> VenuesForArtist:
    """Venues that fit an artist: capacity near their typical draw, in markets where they sell
    tickets and have fans. `city` or `state` keeps only venues in that city or state. For "near
    a city" pass `near` (a city name, e.g. "Chicago" or "Portland, OR"): venues within
    `within_km` (default 150 km, about a 90-minute drive) of it, in any city or state, each with
    its `distance_km`; with `near`, `state` only says which city is meant. A city that cannot
    be placed is an error naming close spellings."""
    from models.recommend import service  # pandas and SciPy: loaded on first call

    items = service.venues_for_artist(
        ctx.settings,
        artist,
        city=city,
        state=state,
        near=near,
        within_km=within_km,
        limit=_limit(limit),
    )
    columns = ["rank", "venue", "city", "state", "capacity", "venue_type", "reason"]
    if near:
        columns.insert(-1, "distance_km")
    where = [f"in {city}" if city else "", f"in {state}" if state and not near else ""]
    if near:
        where.append(f"within {within_km:g} km of {near}")
    return VenuesForArtist(
        artist=artist,
        items=[VenueFit(**item) for item in items],
        table=_table(columns, items),
        reach=" and ".join(w for w in where if w) or "every venue",
    )


@audited("ticket_sales", "fans", "concerts", "artists", "venues")
def recommend_batch(
    ctx: ToolContext, *, fan_ids: list[str], limit: int = 10, date_from: str | None = None
) -> BatchRecommendations:
    """Upcoming-concert recommendations for many fans at once (e.g. for a mailing)."""
    from models.recommend import service  # pandas and SciPy: loaded on first call

    results = service.recommend_batch(
        ctx.settings, fan_ids, limit=_limit(limit), date_from=_date(date_from)
    )
    rows = [{"fan_id": fan, **item} for fan, items in results.items() for item in items]
    return BatchRecommendations(
        results={
            fan: [ConcertRecommendation(**item) for item in items] for fan, items in results.items()
        },
        table=_table(["fan_id", *_CONCERT_COLUMNS], rows),
    )


def _table(columns: list[str], items: list[dict[str, Any]]) -> Table:
    return Table.from_rows(columns, [tuple(item[c] for c in columns) for item in items])


def _date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ValidationError(
            f"dates are ISO, e.g. 2027-03-01; got {text!r}", field="date"
        ) from exc


def _limit(limit: int) -> int:
    return max(1, min(int(limit), 100))
