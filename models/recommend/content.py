"""Content-based similarity: artists by genre, standing and shared venues; venues by place, size."""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd
import scipy.sparse as sp

from models.recommend.data import FloatArray, Index

EARTH_RADIUS_KM: Final = 6371.0

# How much each facet counts in artist–artist similarity (sums to 1). Genre dominates because
# fans' tastes are genre-shaped; popularity and followers say "same league"; shared venues
# catch artists booked into the same rooms (co-billing markets) whatever their genre label.
ARTIST_WEIGHTS: Final = {"genre": 0.55, "popularity": 0.15, "followers": 0.1, "venues": 0.2}


def artist_similarity(artists: pd.DataFrame, concerts: pd.DataFrame, index: Index) -> FloatArray:
    """Artist × artist similarity in [0, 1], zero on the diagonal (float32)."""
    genre = artists["genre"].to_numpy()
    same_genre = (genre[:, None] == genre[None, :]).astype(np.float32)
    pop = artists["popularity"].to_numpy(np.float32) / 100.0
    pop_close = 1.0 - np.abs(pop[:, None] - pop[None, :])
    followers = np.log1p(artists["followers"].to_numpy(np.float32))
    span = max(float(followers.max() - followers.min()), 1e-9)
    fol_close = 1.0 - np.abs(followers[:, None] - followers[None, :]) / span
    venues = _venue_overlap(concerts, index)
    sim = (
        ARTIST_WEIGHTS["genre"] * same_genre
        + ARTIST_WEIGHTS["popularity"] * pop_close
        + ARTIST_WEIGHTS["followers"] * fol_close
        + ARTIST_WEIGHTS["venues"] * venues
    ).astype(np.float32)
    np.fill_diagonal(sim, 0.0)
    return np.asarray(sim)


def _venue_overlap(concerts: pd.DataFrame, index: Index) -> FloatArray:
    """Cosine similarity of artists' venue histories (which rooms and markets they play)."""
    rows = index.positions(concerts["artist_id"])
    venue_codes, venue_ids = pd.factorize(concerts["venue_id"])
    keep = rows >= 0
    matrix = sp.csr_matrix(
        (np.ones(int(keep.sum())), (rows[keep], venue_codes[keep])),
        shape=(len(index), len(venue_ids)),
    )
    matrix.data = np.log1p(matrix.data)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    normed = sp.diags(inv) @ matrix
    return np.asarray((normed @ normed.T).toarray(), dtype=np.float32)


def haversine_km(
    lat1: FloatArray | float, lon1: FloatArray | float, lat2: FloatArray, lon2: FloatArray
) -> FloatArray:
    """Great-circle distance in km (broadcasting)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlat = p2 - p1
    dlon = np.radians(lon2) - np.radians(lon1)
    a = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1))))


def city_centres(venues: pd.DataFrame) -> pd.DataFrame:
    """One row per (city, state, country): the mean position of its venues."""
    return (
        venues.dropna(subset=["latitude", "longitude"])
        .groupby(["city", "state", "country"], as_index=False)[["latitude", "longitude"]]
        .mean()
    )


def venue_similarity(venues: pd.DataFrame, position: int) -> FloatArray:
    """Similarity of every venue to one: nearby (100 km scale), similar capacity, same type."""
    lat = venues["latitude"].to_numpy(np.float64)
    lon = venues["longitude"].to_numpy(np.float64)
    dist = haversine_km(lat[position], lon[position], lat, lon)
    near = np.exp(-np.nan_to_num(dist, nan=1e4) / 100.0)
    cap = np.log1p(venues["capacity"].to_numpy(np.float64))
    size = np.exp(-np.abs(cap - cap[position]))
    same_type = (venues["venue_type"].to_numpy() == venues["venue_type"].iat[position]).astype(
        float
    )
    sim = np.asarray(0.5 * near + 0.3 * size + 0.2 * same_type)
    sim[position] = 0.0
    return sim
