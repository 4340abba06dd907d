"""Reference data for the generator: real cities, name words and the genre market."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Final

import numpy as np
import pandas as pd

GENRE_SHARES: Final[dict[str, float]] = {
    # roughly the share of live-music business by primary genre (US-centric)
    "pop": 0.19,
    "rock": 0.16,
    "hip-hop": 0.15,
    "country": 0.08,
    "electronic": 0.07,
    "r&b": 0.06,
    "indie": 0.06,
    "alternative": 0.05,
    "latin": 0.05,
    "metal": 0.03,
    "jazz": 0.02,
    "folk": 0.02,
    "punk": 0.015,
    "k-pop": 0.01,
    "soul": 0.01,
    "blues": 0.01,
    "reggae": 0.01,
    "classical": 0.005,
}
GENRES: Final = tuple(GENRE_SHARES)

_GENRE_FAMILIES: Final[dict[str, dict[str, float]]] = {
    # which broad scenes a genre belongs to; fans' tastes cross genres along these lines
    "pop": {"mainstream": 1.0, "dance": 0.4},
    "rock": {"guitar": 1.0, "mainstream": 0.3},
    "hip-hop": {"urban": 1.0, "mainstream": 0.3},
    "country": {"roots": 1.0, "mainstream": 0.3},
    "electronic": {"dance": 1.0},
    "r&b": {"urban": 0.8, "mainstream": 0.4, "soulful": 0.4},
    "indie": {"guitar": 0.7, "alt": 0.8},
    "alternative": {"guitar": 0.8, "alt": 0.7},
    "latin": {"latin": 1.0, "dance": 0.3},
    "metal": {"guitar": 0.8, "heavy": 1.0},
    "jazz": {"soulful": 0.8, "refined": 0.8},
    "folk": {"roots": 0.8, "alt": 0.5},
    "punk": {"guitar": 0.6, "heavy": 0.6, "alt": 0.4},
    "k-pop": {"mainstream": 0.8, "dance": 0.6},
    "soul": {"soulful": 1.0, "urban": 0.3},
    "blues": {"roots": 0.6, "soulful": 0.7},
    "reggae": {"latin": 0.4, "urban": 0.3, "island": 1.0},
    "classical": {"refined": 1.0},
}
_FAMILIES: Final = sorted({f for weights in _GENRE_FAMILIES.values() for f in weights})
TASTE_DIMS: Final = len(_FAMILIES) + 4


@dataclass(frozen=True)
class Reference:
    cities: pd.DataFrame
    words: dict[str, Any]


@cache
def load_reference() -> Reference:
    """Cities (with a market weight) and word lists shipped in `data/`."""
    folder = resources.files("pipelines.generate").joinpath("data")
    with folder.joinpath("cities.csv").open(encoding="utf-8") as fh:
        cities = pd.read_csv(fh, keep_default_na=False, dtype={"state_code": str})
    # Encore's market is North American first: foreign cities weigh a quarter of their size
    home = np.where(cities["country_code"].isin(["US", "CA"]), 1.0, 0.25)
    cities["market_weight"] = cities["metro_population"].to_numpy(float) ** 0.85 * home
    log_pop = np.log(cities["metro_population"].to_numpy(float))
    cities["market_z"] = (log_pop - log_pop.mean()) / log_pop.std()
    words = json.loads(folder.joinpath("words.json").read_text(encoding="utf-8"))
    return Reference(cities=cities, words=words)


def genre_weights() -> np.ndarray:
    """Genre market shares as probabilities, in the order of `GENRES`."""
    shares = np.array([GENRE_SHARES[g] for g in GENRES])
    weights: np.ndarray = shares / shares.sum()
    return weights


def genre_centroids(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A unit taste vector per genre: shared scene axes plus a genre-specific part."""
    centroids = {}
    for genre in GENRES:
        vec = np.zeros(TASTE_DIMS)
        for family, weight in _GENRE_FAMILIES[genre].items():
            vec[_FAMILIES.index(family)] = weight
        vec += rng.normal(0.0, 0.25, TASTE_DIMS)
        centroids[genre] = vec / np.linalg.norm(vec)
    return centroids


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Scale each row of a matrix to unit length."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)
