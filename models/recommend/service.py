"""Recommendation services: concerts for a fan or stated tastes, similar artists, fitting venues.

Each returns plain records (dicts) with a human `reason`; tools/insights/recommend.py wraps
them in pydantic results for the agent and MCP. The model is the registry's champion; the
upcoming concerts are read fresh from the warehouse on every call (short-lived connection).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, Final

import numpy as np
import pandas as pd
import scipy.sparse as sp

from core.errors import ValidationError
from core.settings import Settings
from core.warehouse import reading
from models.recommend.content import haversine_km
from models.recommend.hybrid import DEFAULT_RADIUS_KM, HybridModel
from models.recommend.names import resolve_artist, resolve_genres, resolve_place
from models.recommend.refresh import load_model

Record = dict[str, Any]

_UPCOMING_SQL: Final = """
SELECT c.concert_id, c.artist_id, c.venue_id, c.event_date,
       CAST(c.price_min AS DOUBLE) AS price_min, CAST(c.price_max AS DOUBLE) AS price_max
FROM concerts c
WHERE c.status = 'scheduled' AND c.event_date >= ? AND (? IS NULL OR c.event_date <= ?)
  AND (? IS NULL OR c.price_min IS NULL OR c.price_min <= ?)
ORDER BY c.event_date, c.concert_id"""

_BATCH: Final = 500
TARGET_SELL_THROUGH: Final = 0.9
"""Venues fit an artist best when their typical draw would fill about 90% of the room."""


def recommend_concerts(
    settings: Settings,
    *,
    fan_id: str | None = None,
    genres: Sequence[str] = (),
    artists: Sequence[str] = (),
    city: str | None = None,
    state: str | None = None,
    budget: float | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    limit: int = 10,
    radius_km: float = DEFAULT_RADIUS_KM,
) -> list[Record]:
    """Upcoming concerts for a known fan and/or stated tastes, within reach and budget."""
    model = load_model(settings)
    concerts = _upcoming(settings, model, date_from, date_to, budget)
    history = sp.csr_matrix((1, len(model.artist_index)))
    visits: sp.csr_matrix | None = None
    home: pd.DataFrame | None = None
    stated = list(resolve_genres(model, genres))
    if fan_id is not None:
        pos = model.fan_index.get(fan_id.strip())
        if pos is None:
            some = ", ".join(model.fan_index.ids[:3])
            raise ValidationError(
                f"no fan with id {fan_id!r} in the trained model; fan ids look like {some}",
                field="fan_id",
            )
        history, visits = model.purchases[pos], model.venue_visits[pos]
        fan = model.fans.iloc[pos]
        home = pd.DataFrame([fan[["city", "state", "country"]]]).reset_index(drop=True)
        if isinstance(fan["favorite_genre"], str):
            stated.append(fan["favorite_genre"])
    if city or state:
        home = resolve_place(model, city, state)
    liked = [resolve_artist(model, name) for name in artists]
    if fan_id is None and not stated and not liked and home is None:
        raise ValidationError(
            "give a fan id, or at least one of genres, artists, city or state", field="fan_id"
        )
    return _rank(model, history, [stated], liked, home, concerts, limit, radius_km, visits)[0]


def recommend_batch(
    settings: Settings,
    fan_ids: Sequence[str],
    *,
    limit: int = 10,
    date_from: date | None = None,
) -> dict[str, list[Record]]:
    """Upcoming concerts for many known fans at once (unknown ids get an empty list)."""
    model = load_model(settings)
    concerts = _upcoming(settings, model, date_from, None, None)
    known = [(f, p) for f in fan_ids if (p := model.fan_index.get(f)) is not None]
    out: dict[str, list[Record]] = {f: [] for f in fan_ids}
    for start in range(0, len(known), _BATCH):
        part = known[start : start + _BATCH]
        positions = [p for _, p in part]
        fans = model.fans.iloc[positions]
        homes = fans[["city", "state", "country"]].reset_index(drop=True)
        stated = [[g] if isinstance(g, str) else [] for g in fans["favorite_genre"]]
        ranked = _rank(
            model,
            model.purchases[positions],
            stated,
            [],
            homes,
            concerts,
            limit,
            DEFAULT_RADIUS_KM,
            model.venue_visits[positions],
        )
        for (fan_id, _), records in zip(part, ranked, strict=True):
            out[fan_id] = records
    return out


def similar_artists(settings: Settings, artist: str, *, limit: int = 10) -> list[Record]:
    """Artists most like one: shared fans (purchases) blended with genre, standing and venues."""
    model = load_model(settings)
    pos = resolve_artist(model, artist)
    x = sp.csc_matrix(model.purchases)
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel())
    overlap = np.asarray(x.T @ x[:, pos].toarray()).ravel()
    denominator = norms * norms[pos]
    cosine = np.divide(overlap, denominator, out=np.zeros_like(overlap), where=denominator > 0)
    cosine[pos] = 0.0
    fans_part = cosine / cosine.max() if cosine.max() > 0 else cosine
    content = model.similarity[pos].astype(np.float64)
    score = 0.6 * fans_part + 0.4 * content
    score[pos] = -np.inf
    order = np.argsort(-score, kind="stable")[:limit]
    bought = (x > 0).astype(np.float64)
    shared = np.asarray(bought[:, order].T @ bought[:, [pos]].toarray()).ravel()
    me = model.artists.iloc[pos]
    out = []
    for rank, (j, n_shared) in enumerate(zip(order, shared, strict=True), start=1):
        other = model.artists.iloc[j]
        reasons = []
        if n_shared > 0:
            reasons.append(f"{int(n_shared):,} fans bought tickets for both")
        if other["genre"] == me["genre"]:
            reasons.append(f"also {other['genre']}")
        if abs(int(other["popularity"]) - int(me["popularity"])) <= 10:
            reasons.append("similar popularity")
        out.append(
            {
                "rank": rank,
                "artist": other["name"],
                "genre": other["genre"],
                "popularity": int(other["popularity"]),
                "score": round(float(score[j]), 4),
                "reason": "; ".join(reasons) or "similar venues and standing",
            }
        )
    return out


def venues_for_artist(
    settings: Settings,
    artist: str,
    *,
    city: str | None = None,
    state: str | None = None,
    limit: int = 10,
) -> list[Record]:
    """Venues whose capacity fits the artist's typical draw, in markets where they sell."""
    model = load_model(settings)
    pos = resolve_artist(model, artist)
    me = model.artists.iloc[pos]
    draw = float(me["draw"]) or _draw_like(model, int(me["popularity"]))
    venues = model.venues
    capacity = venues["capacity"].to_numpy(np.float64)
    ideal = max(draw / TARGET_SELL_THROUGH, 50.0)
    fit = np.where(capacity > 0, np.exp(-np.abs(np.log(np.maximum(capacity, 1) / ideal))), 0.0)

    markets = model.markets[model.markets["artist_id"] == me["artist_id"]]
    by_state = markets.groupby(["country", "state"])["tickets"].sum()
    state_tickets = _per_venue(venues, by_state)
    buyers = model.purchases[:, pos].toarray().ravel() > 0
    fan_states = model.fans.loc[buyers].groupby(["country", "state"]).size()
    state_fans = _per_venue(venues, fan_states)
    market = _scaled(np.log1p(state_tickets)) * 0.5 + _scaled(np.log1p(state_fans)) * 0.5
    score = 0.6 * fit + 0.4 * market
    keep = np.ones(len(venues), dtype=bool)
    if city or state:
        place = resolve_place(model, city, state).iloc[0]
        keep &= (venues["state"] == place["state"]).to_numpy() & (
            venues["country"] == place["country"]
        ).to_numpy()
        if place["city"]:
            keep &= (venues["city"] == place["city"]).to_numpy()
    score = np.where(keep, score, -np.inf)
    order = [j for j in np.argsort(-score, kind="stable")[:limit] if np.isfinite(score[j])]
    out = []
    for rank, j in enumerate(order, start=1):
        v = venues.iloc[j]
        reasons = [f"capacity {int(v['capacity']):,} fits a typical draw of ~{int(draw):,}"]
        if state_tickets[j] > 0:
            reasons.append(f"sold {int(state_tickets[j]):,} tickets in {v['state'] or v['city']}")
        if state_fans[j] > 0:
            reasons.append(
                f"{int(state_fans[j]):,} of their fans live in {v['state'] or v['city']}"
            )
        out.append(
            {
                "rank": rank,
                "venue": v["name"],
                "city": v["city"],
                "state": v["state"],
                "capacity": int(v["capacity"]),
                "venue_type": v["venue_type"],
                "score": round(float(score[j]), 4),
                "reason": "; ".join(reasons),
            }
        )
    return out


# ---- helpers ---------------------------------------------------------------------------------


def _upcoming(
    settings: Settings,
    model: HybridModel,
    date_from: date | None,
    date_to: date | None,
    budget: float | None,
) -> pd.DataFrame:
    start = date_from or date.today()
    with reading(settings) as con:
        return con.execute(_UPCOMING_SQL, [start, date_to, date_to, budget, budget]).df()


def _rank(
    model: HybridModel,
    history: sp.csr_matrix,
    stated: list[list[str]],
    liked: list[int],
    homes: pd.DataFrame | None,
    concerts: pd.DataFrame,
    limit: int,
    radius_km: float,
    visits: sp.csr_matrix | None = None,
) -> list[list[Record]]:
    """Top concerts per fan (rows of `history`), at most one date per artist.

    The ranking is the evaluated one (`HybridModel.concert_scores`); keeping only an artist's
    best date stops one tour from filling the whole list.
    """
    n = history.shape[0]
    if concerts.empty:
        return [[] for _ in range(n)]
    liked_row = sp.csr_matrix(
        (np.ones(len(liked)), (np.zeros(len(liked), dtype=np.int64), liked)),
        shape=(1, len(model.artist_index)),
    )
    liked_rows = sp.vstack([liked_row] * n).tocsr()
    scores = model.artist_scores(history, model.genre_rows(stated), liked=liked_rows)
    all_scores = model.concert_scores(
        scores, homes, concerts, radius_km=radius_km, venue_visits=visits
    )
    explain = _Explainer(model, history, liked, homes, visits)
    venue_pos = model.venue_index.positions(concerts["venue_id"])
    artist_pos = model.artist_index.positions(concerts["artist_id"])
    ids = concerts["concert_id"].to_numpy()
    dates = pd.to_datetime(concerts["event_date"]).dt.date.to_numpy()
    prices = concerts["price_min"].to_numpy(np.float64)
    out = []
    for i in range(n):
        concert_scores = all_scores[i]
        records: list[Record] = []
        seen_artists: set[int] = set()
        for j in np.argsort(-concert_scores, kind="stable"):
            if len(records) >= limit or not np.isfinite(concert_scores[j]):
                break
            a, v = int(artist_pos[j]), int(venue_pos[j])
            if a in seen_artists:
                continue
            seen_artists.add(a)
            records.append(
                {
                    "rank": len(records) + 1,
                    "concert_id": str(ids[j]),
                    "artist": explain.artist_names[a],
                    "genre": str(explain.genres[a]),
                    "venue": explain.venue_names[v],
                    "city": explain.venue_cities[v],
                    "state": explain.venue_states[v],
                    "event_date": dates[j].isoformat(),
                    "price_min": None if np.isnan(prices[j]) else float(prices[j]),
                    "score": round(float(concert_scores[j]), 4),
                    "reason": explain.reason(i, stated[i], a, v),
                }
            )
        out.append(records)
    return out


class _Explainer:
    """Human reasons for a recommended concert: the taste behind it and where it is."""

    def __init__(
        self,
        model: HybridModel,
        history: sp.csr_matrix,
        liked: list[int],
        homes: pd.DataFrame | None,
        visits: sp.csr_matrix | None = None,
    ) -> None:
        self.model = model
        self.visits = None if visits is None else visits.toarray()
        self.liked = liked
        self.seen = history.toarray()
        self.cf_rows = np.asarray(model.cf.transform(history).toarray())
        self.artist_names = model.artists["name"].astype(str).to_numpy()
        self.genres = model.artists["genre"].astype(str).to_numpy()
        venues = model.venues
        self.venue_names = venues["name"].astype(str).to_numpy()
        self.venue_cities = venues["city"].astype(str).to_numpy()
        self.venue_states = venues["state"].astype(str).to_numpy()
        self.lat = venues["latitude"].to_numpy(np.float64)
        self.lon = venues["longitude"].to_numpy(np.float64)
        self.homes = homes
        self.centres: list[tuple[float, float] | None] = []
        for _, home in (homes if homes is not None else pd.DataFrame()).iterrows():
            here = (venues["city"] == home["city"]) & (venues["country"] == home["country"])
            self.centres.append(
                (float(self.lat[here].mean()), float(self.lon[here].mean())) if here.any() else None
            )

    def reason(self, fan: int, stated: list[str], artist: int, venue: int) -> str:
        been = (
            f"you have been to {self.venue_names[venue]}"
            if self.visits is not None and self.visits[fan, venue] > 0
            else ""
        )
        parts = (self._taste(fan, stated, artist), been, self._where(fan, venue))
        return "; ".join(p for p in parts if p)

    def _taste(self, fan: int, stated: list[str], artist: int) -> str:
        names = self.artist_names
        if self.seen[fan, artist] > 0:
            return f"you saw {names[artist]} before"
        weights = self.model.cf.weights
        if weights is not None:
            contrib = self.cf_rows[fan] * weights[:, artist]
            best = int(np.argmax(contrib))
            if contrib[best] > 0:
                return f"because you saw {names[best]}"
        bought = np.flatnonzero(self.seen[fan])
        if bought.size:
            sims = self.model.similarity[bought, artist]
            genre = self.genres[artist]
            best = int(bought[int(np.argmax(sims))])
            if self.genres[best] == genre or genre not in stated:
                return f"similar to {names[best]}, whom you saw"
        if artist in self.liked:
            return f"you like {names[artist]}"
        if self.liked:
            sims = self.model.similarity[self.liked, artist]
            return f"similar to {names[self.liked[int(np.argmax(sims))]]}"
        genre = self.genres[artist]
        return f"you like {genre}" if genre in stated else f"popular {genre} act"

    def _where(self, fan: int, venue: int) -> str:
        if self.homes is None:
            return ""
        home = self.homes.iloc[fan]
        city = self.venue_cities[venue]
        if home["city"] and home["city"] == city:
            return f"in {city}"
        centre = self.centres[fan]
        if centre is None:
            return f"in {city}, {self.venue_states[venue]}"
        km = float(
            haversine_km(
                centre[0], centre[1], self.lat[venue : venue + 1], self.lon[venue : venue + 1]
            )[0]
        )
        return f"{city}, {km:.0f} km from {home['city']}"


def _draw_like(model: HybridModel, popularity: int) -> float:
    """A new artist's draw: the median of artists within 5 popularity points who have one."""
    artists = model.artists
    peers = artists[(artists["draw"] > 0) & ((artists["popularity"] - popularity).abs() <= 5)]
    pool = peers if not peers.empty else artists[artists["draw"] > 0]
    return float(pool["draw"].median()) if not pool.empty else 500.0


def _scaled(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    top = float(values.max()) if values.size else 0.0
    return values / top if top > 0 else values


def _per_venue(venues: pd.DataFrame, by_state: pd.Series) -> np.ndarray[Any, Any]:
    """Each venue's value from a series indexed by (country, state); 0 for a state not in it."""
    places = zip(venues["country"], venues["state"], strict=True)
    return np.array([by_state.get(place, 0.0) for place in places], dtype=np.float64)
