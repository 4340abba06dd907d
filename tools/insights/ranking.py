"""venue_ranking: the most popular venues (3.1), filterable, with the factors behind each score."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from core.entities import match_name
from core.errors import ValidationError
from tools.context import ToolContext
from tools.query.audit import audited
from tools.results import Table


class RankedVenue(BaseModel):
    """One venue's place in the ranking and why it is there."""

    rank: int
    venue: str
    venue_id: str
    city: str
    state: str | None
    capacity: int | None
    venue_type: str | None
    score: float = Field(description="0-100; the sum of the factor contributions")
    factors: dict[str, dict[str, float]] = Field(
        description="attendance, revenue, frequency, trend: value, percentile, weight, contribution"
    )


class VenueRanking(BaseModel):
    """Venues ranked by popularity score, with the filters applied and when scores were computed."""

    rows: list[RankedVenue]
    table: Table
    filters: dict[str, Any]
    computed_at: datetime
    model_version: str


_BAND_WORDS = {"medium": "mid", "mid-sized": "mid", "mid-size": "mid", "midsize": "mid",
               "extra large": "xl", "extra-large": "xl"}  # fmt: skip
"""How people (and LLMs) name the capacity bands."""


def _match(kind: str, text: str | None, choices: list[str]) -> str | None:
    """The vocabulary value a user means (None when not given); an error with close names else."""
    if text is None or not text.strip():
        return None
    return choices[match_name(kind, text, choices, among=" among ranked venues")]


@audited("venues", "concert_performance", "concerts", "artists")
def venue_ranking(
    ctx: ToolContext,
    *,
    city: str | None = None,
    state: str | None = None,
    genre: str | None = None,
    capacity_band: str | None = None,
    venue_type: str | None = None,
    min_capacity: int | None = None,
    max_capacity: int | None = None,
    limit: int = 10,
) -> VenueRanking:
    """Rank venues by popularity: attendance (sell-through), revenue per concert, bookings in the
    last year, and trend (tickets last year vs the year before). Filter by city, state (e.g. "CA"),
    genre of artists who played there, capacity_band ("small" <2k, "mid" 2k-8k, "large" 8k-20k,
    "xl" >=20k), seats (min_capacity, max_capacity: "more than 1,000 seats") and venue_type
    (arena, stadium, theater, club, amphitheater, outdoor). Each row carries the factor
    contributions that add up to its 0-100 score.
    """
    if not 1 <= limit <= 500:
        raise ValidationError(f"limit must be between 1 and 500; got {limit}", field="limit")
    # pandas: with the first ranking (or the server's warm-up), not when the tool is listed
    from models.ranking import CAPACITY_BANDS, factor_breakdown, filter_scores, load_ranking

    scores, meta = load_ranking(ctx.settings)
    genres = sorted({str(g) for gs in scores["genres"] for g in gs})
    filters = {
        "city": _match("city", city, sorted(set(scores["city"].dropna()))),
        "state": _match("state", state, sorted(set(scores["state"].dropna()))),
        "genre": _match("genre", genre, genres),
        "capacity_band": _match(
            "capacity_band",
            _BAND_WORDS.get((capacity_band or "").strip().lower(), capacity_band),
            list(CAPACITY_BANDS),
        ),
        "venue_type": _match("venue_type", venue_type, sorted(set(scores["venue_type"].dropna()))),
    }
    ranked = filter_scores(scores, **filters)
    if min_capacity is not None:
        ranked = ranked[ranked["capacity"] >= min_capacity]
    if max_capacity is not None:
        ranked = ranked[ranked["capacity"] <= max_capacity]
    ranked = ranked.head(limit)
    rows = [
        RankedVenue(
            rank=int(r["rank"]),
            venue=str(r["venue"]),
            venue_id=str(r["venue_id"]),
            city=str(r["city"]),
            state=None if r["state"] is None else str(r["state"]),
            capacity=None if r["capacity"] != r["capacity"] else int(r["capacity"]),
            venue_type=None if r["venue_type"] is None else str(r["venue_type"]),
            score=round(float(r["score"]), 2),
            factors=factor_breakdown(r),
        )
        for _, r in ranked.iterrows()
    ]
    table = Table.from_rows(
        [
            "rank",
            "venue",
            "city",
            "state",
            "capacity",
            "score",
            "sell_through",
            "gross_per_event",
            "events_last_year",
            "trend",
        ],
        [
            (
                row.rank,
                row.venue,
                row.city,
                row.state,
                row.capacity,
                row.score,
                round(row.factors["attendance"]["value"], 3),
                round(row.factors["revenue"]["value"], 2),
                int(row.factors["frequency"]["value"]),
                round(row.factors["trend"]["value"], 3),
            )
            for row in rows
        ],
    )
    computed_at = scores["computed_at"].iloc[0] if len(scores) else meta.trained_at
    return VenueRanking(
        rows=rows,
        table=table,
        filters={
            k: v
            for k, v in {
                **filters,
                "min_capacity": min_capacity,
                "max_capacity": max_capacity,
            }.items()
            if v is not None
        },
        computed_at=computed_at,
        model_version=meta.version,
    )
