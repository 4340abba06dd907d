"""Artists: heavy-tailed followers, popularity tied to them, genres in market shares."""

from __future__ import annotations

import string
from datetime import date

import numpy as np
import pandas as pd

from pipelines.generate.reference import GENRES, Reference, genre_weights, unit_rows

_SOLO_GENRES = frozenset({"pop", "hip-hop", "r&b", "latin", "k-pop", "country", "soul", "blues"})
_BASE62 = np.array(list(string.digits + string.ascii_letters))

_COUNTRIES_BY_GENRE: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {
    "latin": (("MX", "PR", "CO", "US", "ES", "AR"), (0.35, 0.2, 0.15, 0.15, 0.1, 0.05)),
    "k-pop": (("KR",), (1.0,)),
    "reggae": (("JM", "US", "GB"), (0.6, 0.25, 0.15)),
}
_DEFAULT_COUNTRIES = (
    ("US", "GB", "CA", "AU", "SE", "DE", "FR", "IE"),
    (0.66, 0.12, 0.07, 0.04, 0.03, 0.03, 0.03, 0.02),
)


def make_artists(
    rng: np.random.Generator,
    n: int,
    as_of: date,
    ref: Reference,
    centroids: dict[str, np.ndarray],
) -> pd.DataFrame:
    """Generate `n` artists with contract columns plus the hidden traits that drive demand.

    Hidden columns (not loaded): `taste` (vector fans match against), `draw` (tickets the artist
    can sell in a typical market), `hotness` (demand beyond popularity), `momentum` (yearly trend).
    """
    genre = rng.choice(GENRES, size=n, p=genre_weights())
    log_followers = np.clip(rng.normal(4.6, 1.05, n), 2.0, 8.3)
    followers = np.round(10**log_followers).astype(np.int64)
    popularity = np.clip(np.round(15.0 * log_followers - 40.0 + rng.normal(0, 5, n)), 0, 100)

    taste = unit_rows(
        np.stack([centroids[g] for g in genre]) + rng.normal(0, 0.12, (n, len(centroids["pop"])))
    )
    hotness = rng.normal(0.0, 0.35, n)
    draw = 140.0 * np.exp(popularity / 14.5) * np.exp(hotness)

    career = np.minimum(np.round(rng.exponential(9.0, n)), as_of.year - 1965)
    formed_year = (as_of.year - career).astype(np.int64)

    frame = pd.DataFrame(
        {
            "artist_id": [f"A{i:0{len(str(n)) + 1}d}" for i in range(1, n + 1)],
            "name": _unique_names(rng, genre, ref),
            "genre": genre,
            "country": [_country(rng, g) for g in genre],
            "popularity": popularity.astype(np.int16),
            "followers": followers,
            "formed_year": formed_year,
            "spotify_id": base62_ids(rng, n, 22),
        }
    )
    frame["draw"] = draw
    frame["hotness"] = hotness
    frame["momentum"] = rng.normal(0.0, 0.18, n)
    frame["taste"] = list(taste)
    return frame


def base62_ids(rng: np.random.Generator, n: int, length: int, prefix: str = "") -> list[str]:
    """`n` random ids of `length` base-62 characters (the shape of Spotify's and Ticketmaster's)."""
    return [prefix + "".join(row) for row in _BASE62[rng.integers(0, 62, (n, length))]]


def _country(rng: np.random.Generator, genre: str) -> str:
    codes, weights = _COUNTRIES_BY_GENRE.get(genre, _DEFAULT_COUNTRIES)
    return str(rng.choice(codes, p=np.array(weights) / sum(weights)))


def _unique_names(rng: np.random.Generator, genres: np.ndarray, ref: Reference) -> list[str]:
    words = ref.words
    cities = ref.cities["city"].tolist()
    seen: set[str] = set()
    names = []
    for genre in genres:
        for attempt in range(50):
            name = _one_name(rng, str(genre), words, cities)
            if attempt >= 20:  # crowded name space at large scales: a numeral keeps names unique
                name = f"{name} {rng.integers(2, 100)}"
            if name.lower() not in seen:
                break
        seen.add(name.lower())
        names.append(name)
    return names


def _one_name(
    rng: np.random.Generator, genre: str, words: dict[str, list[str]], cities: list[str]
) -> str:
    def pick(key: str) -> str:
        options = words[key]
        return options[int(rng.integers(len(options)))]

    if genre in _SOLO_GENRES and rng.random() < 0.75:
        if genre in {"hip-hop", "r&b"} and rng.random() < 0.5:
            return f"{pick('stage_prefixes')} {pick('first_names')}"
        if genre == "k-pop" and rng.random() < 0.6:
            return f"{pick('band_adjectives').upper()}{rng.choice(['', 'Z', 'X', '9'])}"
        return f"{pick('first_names')} {pick('last_names')}"
    if genre == "electronic" and rng.random() < 0.5:
        return f"{pick('band_adjectives')}{pick('band_nouns').lower()}"
    pattern = pick("band_patterns")
    return pattern.format(
        adj=pick("band_adjectives"),
        noun=pick("band_nouns"),
        noun2=pick("band_nouns"),
        first=pick("first_names"),
        last=pick("last_names"),
        city=cities[int(rng.integers(len(cities)))],
    )
