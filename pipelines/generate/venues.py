"""Venues in real cities, with true coordinates and capacities by venue type."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.schemas import VENUE_TYPES
from pipelines.generate.artists import base62_ids
from pipelines.generate.reference import Reference

# share of venues by type, and (median, spread, min, max) of capacity as a log-normal
_TYPE_SHARES = {
    "club": 0.36,
    "theater": 0.27,
    "arena": 0.12,
    "amphitheater": 0.1,
    "outdoor": 0.08,
    "stadium": 0.07,
}
_CAPACITY = {
    "club": (550, 0.55, 120, 2_500),
    "theater": (2_000, 0.4, 600, 6_000),
    "arena": (15_000, 0.3, 6_000, 23_000),
    "amphitheater": (12_000, 0.45, 3_000, 30_000),
    "outdoor": (15_000, 0.8, 2_000, 90_000),
    "stadium": (52_000, 0.3, 25_000, 100_000),
}
# large venues need a large market behind them (metro population)
_MIN_MARKET = {"stadium": 1_500_000, "arena": 400_000, "amphitheater": 300_000}
# how far from the city centre a venue sits, in degrees (stadiums and sheds are out of town)
_SPREAD_DEG = {
    "club": 0.03,
    "theater": 0.03,
    "arena": 0.05,
    "amphitheater": 0.12,
    "outdoor": 0.15,
    "stadium": 0.08,
}


def make_venues(rng: np.random.Generator, n: int, ref: Reference) -> pd.DataFrame:
    """Generate `n` venues; every city gets one before big markets get more."""
    cities = ref.cities
    weights = cities["market_weight"].to_numpy(float)
    if n >= len(cities):
        extra = rng.choice(len(cities), size=n - len(cities), p=weights / weights.sum())
        city_idx = np.concatenate([np.arange(len(cities)), extra])
    else:
        city_idx = rng.choice(len(cities), size=n, replace=False, p=weights / weights.sum())
    city_idx = np.sort(city_idx)

    rows = []
    used_names: set[str] = set()
    city_rows = cities.to_dict("records")
    for i, ci in enumerate(city_idx, start=1):
        city = city_rows[ci]
        venue_type = _pick_type(rng, int(city["metro_population"]))
        median, spread, low, high = _CAPACITY[venue_type]
        capacity = int(np.clip(round(median * np.exp(rng.normal(0, spread)), -1), low, high))
        spread_deg = _SPREAD_DEG[venue_type]
        rows.append(
            {
                "venue_id": f"V{i:0{len(str(n)) + 1}d}",
                "name": _unique_name(rng, venue_type, str(city["city"]), ref, used_names),
                "city": city["city"],
                "state": city["state_code"] or None,
                "country": city["country_code"],
                "latitude": round(float(city["latitude"]) + rng.normal(0, spread_deg / 2), 5),
                "longitude": round(float(city["longitude"]) + rng.normal(0, spread_deg / 2), 5),
                "capacity": capacity,
                "venue_type": venue_type,
                "ticketmaster_id": base62_ids(rng, 1, 8, prefix="KovZ")[0],
                "market_z": float(city["market_z"]),
                "market_weight": float(city["market_weight"]),
            }
        )
    return pd.DataFrame(rows)


def _pick_type(rng: np.random.Generator, metro_population: int) -> str:
    shares = np.array(
        [_TYPE_SHARES[t] if metro_population >= _MIN_MARKET.get(t, 0) else 0.0 for t in VENUE_TYPES]
    )
    return str(rng.choice(VENUE_TYPES, p=shares / shares.sum()))


def _unique_name(
    rng: np.random.Generator, venue_type: str, city: str, ref: Reference, used: set[str]
) -> str:
    def pick(options: list[str]) -> str:
        return options[int(rng.integers(len(options)))]

    name = ""
    for attempt in range(40):
        name = pick(ref.words["venue_patterns"][venue_type]).format(
            city=city, word=pick(ref.words["venue_words"]), sponsor=pick(ref.words["sponsors"])
        )
        if attempt >= 20:
            name = f"{name} {city}"
        if name not in used:
            break
    used.add(name)
    return name
