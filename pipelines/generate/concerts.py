"""Concerts: artists tour venues that fit their draw, over past and future dates.

Each concert also gets its hidden outcome, `tickets` (what it sells, or would sell): sell-through
is driven by popularity, how well the venue fits the artist's draw, the market, the weekday, the
season and price, with noise; some shows sell out, some are cancelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

import numpy as np
import pandas as pd

from pipelines.generate.reference import Reference

HISTORY_DAYS: Final = 3 * 365
FUTURE_DAYS: Final = 365

# more shows in late spring to early autumn, fewest in January
_MONTH_WEIGHT = np.array([0.55, 0.7, 0.9, 1.0, 1.15, 1.25, 1.3, 1.3, 1.15, 1.1, 0.9, 0.75])
# sell-through by weekday, Monday first: weekends sell, early week does not
_WEEKDAY_EFFECT = np.array([-0.45, -0.35, -0.15, 0.0, 0.35, 0.45, 0.05])
_PRICE_FACTOR = {
    "club": 0.75,
    "theater": 1.0,
    "arena": 1.3,
    "stadium": 1.45,
    "amphitheater": 1.0,
    "outdoor": 0.9,
}
_OPEN_AIR = frozenset({"amphitheater", "outdoor", "stadium"})


def make_concerts(
    rng: np.random.Generator,
    n: int,
    as_of: date,
    artists: pd.DataFrame,
    venues: pd.DataFrame,
    ref: Reference,
) -> pd.DataFrame:
    """Generate about `n` concerts (exactly `n` unless tours run past the window)."""
    start = as_of - timedelta(days=HISTORY_DAYS)
    days = HISTORY_DAYS + FUTURE_DAYS
    day_weight = np.array(
        [_MONTH_WEIGHT[(start + timedelta(days=d)).month - 1] for d in range(days)]
    )

    pop = artists["popularity"].to_numpy(float)
    weight = (0.3 + pop / 100) ** 1.5 * rng.lognormal(0, 0.5, len(artists))
    counts = rng.multinomial(n, weight / weight.sum())

    arrays = _VenueArrays.of(venues)
    rows: list[tuple[int, int, int, str | None]] = []  # artist idx, venue idx, day, tour name
    countries, draws = artists["country"].to_numpy(), artists["draw"].to_numpy(float)
    for a_idx in np.flatnonzero(counts):
        remaining = int(counts[a_idx])
        home, draw = str(countries[a_idx]), float(draws[a_idx])
        while remaining > 0:
            size = 1 if rng.random() < 0.2 else 1 + int(rng.poisson(4 + 14 * pop[a_idx] / 100))
            size = min(size, remaining)
            remaining -= size
            chosen, tour_days, name = _tour(rng, size, home, draw, arrays, start, day_weight, ref)
            rows.extend(
                (int(a_idx), int(v), int(d), name) for v, d in zip(chosen, tour_days, strict=True)
            )

    frame = pd.DataFrame(rows, columns=["a_idx", "v_idx", "day", "tour_name"])
    frame = frame.sort_values(["day", "a_idx"], kind="stable").reset_index(drop=True)
    return _outcomes(rng, frame, start, as_of, artists, venues)


@dataclass(frozen=True)
class _VenueArrays:
    """Venue columns as arrays, read once rather than per tour."""

    country: np.ndarray
    capacity_log: np.ndarray
    market: np.ndarray
    open_air: np.ndarray
    longitude: np.ndarray
    by_country: dict[str, np.ndarray]

    @classmethod
    def of(cls, venues: pd.DataFrame) -> _VenueArrays:
        country = venues["country"].to_numpy()
        return cls(
            country=country,
            capacity_log=np.log(venues["capacity"].to_numpy(float)),
            market=venues["market_weight"].to_numpy(float) ** 0.4,
            open_air=venues["venue_type"].isin(list(_OPEN_AIR)).to_numpy(),
            longitude=venues["longitude"].to_numpy(float),
            by_country={c: np.flatnonzero(country == c) for c in np.unique(country)},
        )


def _tour(
    rng: np.random.Generator,
    size: int,
    home_country: str,
    draw: float,
    venues: _VenueArrays,
    start: date,
    day_weight: np.ndarray,
    ref: Reference,
) -> tuple[np.ndarray, np.ndarray, str | None]:
    """One tour: the venues (in route order), the day of each show and the tour's name."""
    days = len(day_weight)
    span = min(days - 1, int(size * 2.5))
    p = day_weight[: days - span]
    first_day = int(rng.choice(days - span, p=p / p.sum()))
    gaps = 1 + rng.geometric(0.55, size) if size > 1 else np.zeros(1, dtype=int)
    tour_days = first_day + np.cumsum(gaps) - gaps[0]

    candidates = _region(rng, home_country, venues)
    target = np.log(draw * rng.lognormal(0, 0.35))
    fit = np.exp(-((venues.capacity_log[candidates] - target) ** 2) / (2 * 0.5**2))
    weight = fit * venues.market[candidates] + 1e-12
    if (start + timedelta(days=first_day)).month in (11, 12, 1, 2, 3):
        weight = np.where(venues.open_air[candidates], weight * 0.1, weight)
    replace = size > int((weight > weight.max() * 1e-3).sum())
    chosen = candidates[
        rng.choice(len(candidates), size=size, replace=replace, p=weight / weight.sum())
    ]
    # route the tour across the map rather than zig-zagging
    chosen = chosen[np.argsort(venues.longitude[chosen] * (1 if rng.random() < 0.5 else -1))]

    name = None
    if size > 1:
        word = str(rng.choice(ref.words["tour_words"]))
        name = f"{word} Tour" if rng.random() < 0.7 else f"{word} World Tour"
    return chosen, tour_days, name


def _region(rng: np.random.Generator, home_country: str, venues: _VenueArrays) -> np.ndarray:
    """The venues a tour plays: mostly the artist's home country, else the US or anywhere."""
    if home_country in venues.by_country and rng.random() < 0.8:
        region = home_country
    elif rng.random() < 0.7 and "US" in venues.by_country:
        region = "US"
    else:
        region = str(rng.choice(venues.country))
    idx = venues.by_country[region]
    return idx if len(idx) >= 3 else np.arange(len(venues.country))


def _outcomes(
    rng: np.random.Generator,
    frame: pd.DataFrame,
    start: date,
    as_of: date,
    artists: pd.DataFrame,
    venues: pd.DataFrame,
) -> pd.DataFrame:
    n = len(frame)
    a = artists.iloc[frame["a_idx"]].reset_index(drop=True)
    v = venues.iloc[frame["v_idx"]].reset_index(drop=True)
    event_date = pd.to_datetime(start) + pd.to_timedelta(frame["day"], unit="D")
    years_from_now = (event_date - pd.Timestamp(as_of)).dt.days.to_numpy() / 365.0
    pop = a["popularity"].to_numpy(float)
    capacity = v["capacity"].to_numpy(float)
    market_z = v["market_z"].to_numpy(float)
    venue_type = v["venue_type"].to_numpy()

    price_noise = rng.lognormal(0, 0.15, n)
    base = (
        16.0
        * np.exp(pop / 42.0)
        * np.array([_PRICE_FACTOR[t] for t in venue_type])
        * np.exp(0.08 * market_z)
        * price_noise
    )
    price_min = np.maximum(np.round(base * 0.65 * 2) / 2, 5.0)
    spread = np.where(venue_type == "club", 1.6, 1.8 + 2.0 * pop / 100)
    price_max = np.round(price_min * spread * 2) / 2

    draw = a["draw"].to_numpy(float) * np.exp(a["momentum"].to_numpy(float) * years_from_now)
    month = event_date.dt.month.to_numpy()
    winter_open_air = np.isin(venue_type, list(_OPEN_AIR)) & np.isin(month, [11, 12, 1, 2, 3])
    logit = (
        1.25
        + 1.3 * np.log(draw * np.exp(0.3 * market_z) / capacity)
        + 0.025 * (pop - 50)
        + 0.3 * market_z
        + _WEEKDAY_EFFECT[event_date.dt.day_of_week.to_numpy()]
        + np.where(np.isin(month, [6, 7, 8]), 0.15, 0.0)
        - np.where(winter_open_air, 0.6, 0.0)
        - 0.9 * np.log(price_noise)
        + rng.normal(0, 0.35, n)
    )
    sell_through = np.clip(1.08 / (1 + np.exp(-logit)), 0.02, 1.0)
    tickets = np.round(capacity * sell_through).astype(np.int64)

    past = (event_date < pd.Timestamp(as_of)).to_numpy()
    cancel_p = np.where(past, 0.015 + 0.05 * (sell_through < 0.35), 0.008)
    cancelled = rng.random(n) < cancel_p
    status = np.where(cancelled, "cancelled", np.where(past, "completed", "scheduled"))
    lead = np.clip(np.round(35 + 1.6 * pop + rng.normal(0, 15, n)), 14, 270)
    on_sale = event_date - pd.to_timedelta(lead, unit="D")

    width = len(str(n)) + 1
    return pd.DataFrame(
        {
            "concert_id": [f"C{i:0{width}d}" for i in range(1, n + 1)],
            "artist_id": a["artist_id"].to_numpy(),
            "venue_id": v["venue_id"].to_numpy(),
            "event_date": event_date.dt.date.to_numpy(),
            "tour_name": frame["tour_name"].to_numpy(),
            "status": status,
            "on_sale_date": on_sale.dt.date.to_numpy(),
            "price_min": price_min,
            "price_max": price_max,
            "currency": "USD",  # the prices above are US dollars
            # hidden outcome, used by the sales generator
            "a_idx": frame["a_idx"].to_numpy(),
            "v_idx": frame["v_idx"].to_numpy(),
            "capacity": capacity.astype(np.int64),
            "tickets": np.where(cancelled, 0, tickets),
        }
    )
