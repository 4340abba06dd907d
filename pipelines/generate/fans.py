"""Fans: home cities by market size, genre tastes by age, and how much they buy."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from core.schemas import AGE_BANDS
from pipelines.generate.reference import GENRES, Reference, genre_weights, unit_rows

_AGE_SHARES = np.array([0.22, 0.30, 0.21, 0.14, 0.09, 0.04])
# genres that skew young (first number) or old (second); the rest follow the market
_AGE_TILT = {
    "hip-hop": 1.6,
    "k-pop": 1.8,
    "electronic": 1.4,
    "pop": 1.2,
    "jazz": -1.2,
    "classical": -1.5,
    "blues": -1.3,
    "country": -0.4,
    "rock": -0.6,
    "folk": -0.5,
}


def make_fans(
    rng: np.random.Generator,
    n: int,
    as_of: date,
    ref: Reference,
    venue_cities: pd.DataFrame,
    centroids: dict[str, np.ndarray],
) -> pd.DataFrame:
    """Generate `n` fans living in the cities that have venues.

    Hidden columns: `taste` (unit vector near their favourite and second genre) and
    `activity` (how often they buy, heavy-tailed).
    """
    cities = ref.cities.merge(
        venue_cities, left_on=["city", "country_code"], right_on=["city", "country"]
    )
    weights = cities["market_weight"].to_numpy(float)
    home = rng.choice(len(cities), size=n, p=weights / weights.sum())
    age_idx = rng.choice(len(AGE_BANDS), size=n, p=_AGE_SHARES)

    favorite = _genres_by_age(rng, age_idx)
    second = rng.choice(GENRES, size=n, p=genre_weights())
    taste = (
        np.stack([centroids[g] for g in favorite])
        + 0.35 * np.stack([centroids[g] for g in second])
        + rng.normal(0, 0.12, (n, len(centroids["pop"])))
    )
    signup_days = (rng.beta(2.2, 1.0, n) * 5 * 365).astype(int)  # sign-ups accelerate over time
    start = as_of - timedelta(days=5 * 365)

    frame = pd.DataFrame(
        {
            "fan_id": [f"F{i:0{len(str(n)) + 1}d}" for i in range(1, n + 1)],
            "city": cities["city"].to_numpy()[home],
            "state": cities["state_code"].replace("", None).to_numpy()[home],
            "country": cities["country_code"].to_numpy()[home],
            "age_band": np.asarray(AGE_BANDS)[age_idx],
            "signup_date": [start + timedelta(days=int(d)) for d in signup_days],
            "favorite_genre": favorite,
        }
    )
    frame["taste"] = list(unit_rows(taste))
    frame["activity"] = rng.lognormal(0.0, 0.8, n)
    return frame


def _genres_by_age(rng: np.random.Generator, age_idx: np.ndarray) -> np.ndarray:
    base = np.log(genre_weights())
    tilt = np.array([_AGE_TILT.get(g, 0.0) for g in GENRES])
    youth = 1.0 - age_idx / (len(AGE_BANDS) - 1) * 2  # +1 for 18-24 ... -1 for 65+
    out = np.empty(len(age_idx), dtype=object)
    for band in np.unique(age_idx):
        logits = base + tilt * youth[age_idx == band][0]
        p = np.exp(logits) / np.exp(logits).sum()
        mask = age_idx == band
        out[mask] = rng.choice(GENRES, size=int(mask.sum()), p=p)
    return out
