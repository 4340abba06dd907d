"""Recommendation services: concerts for a fan or stated tastes, similar artists, fitting venues.

Each returns plain records (dicts) with a human `reason`; tools/insights/recommend.py wraps
them in pydantic results for the agent and MCP. The model is the registry's champion; the
upcoming concerts are read fresh from the warehouse on every call (short-lived connection).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

import numpy as np
import pandas as pd
import scipy.sparse as sp

from core.entities import match_name
from core.errors import ValidationError
from core.settings import Settings
from core.warehouse import reading
from models.recommend import DEFAULT_RADIUS_KM, NEAR_KM
from models.recommend.content import haversine_km
from models.recommend.hybrid import HybridModel
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
_MAX_KM: Final = 20_016.0
"""Half the Earth's circumference: a radius this wide takes in every venue."""


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
    near: str | None = None,
    within_km: float = NEAR_KM,
    limit: int = 10,
) -> list[Record]:
    """Venues whose capacity fits the artist's typical draw, in markets where they sell.

    `city` and `state` keep only venues in that city or state. `near` keeps venues within
    `within_km` of a city's centre, whatever their city or state ("near Chicago" takes in
    Milwaukee); with `near`, `state` only says which city is meant ("Portland", "OR"). Each
    record then carries `distance_km`. A city that cannot be placed raises ValidationError.
    """
    if not 0 < within_km <= _MAX_KM:
        raise ValidationError(
            f"within_km must be above 0 and at most {_MAX_KM:,.0f}; got {within_km}",
            field="within_km",
        )
    model = load_model(settings)
    centre = _locate(model, near, state) if near else None
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
    if city or (state and not near):
        place = resolve_place(model, city, state).iloc[0]
        keep &= (venues["state"] == place["state"]).to_numpy() & (
            venues["country"] == place["country"]
        ).to_numpy()
        if place["city"]:
            keep &= (venues["city"] == place["city"]).to_numpy()
    distance = np.full(len(venues), np.nan)
    if centre is not None:
        lat = venues["latitude"].to_numpy(np.float64)
        lon = venues["longitude"].to_numpy(np.float64)
        distance = haversine_km(centre.latitude, centre.longitude, lat, lon)
        keep &= np.nan_to_num(distance, nan=np.inf) <= within_km  # unplaced venues are not near
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
        if centre is not None:
            same = (v["city"], v["state"]) == (centre.city, centre.state)
            km = float(distance[j])
            reasons.append(f"in {centre.label}" if same else f"{km:.0f} km from {centre.label}")
        out.append(
            {
                "rank": rank,
                "venue": v["name"],
                "city": v["city"],
                "state": v["state"],
                "capacity": int(v["capacity"]),
                "venue_type": v["venue_type"],
                "distance_km": None if centre is None else round(float(distance[j]), 1),
                "score": round(float(score[j]), 4),
                "reason": "; ".join(reasons),
            }
        )
    return out


@dataclass(frozen=True)
class Place:
    """A city a user named, and its centre."""

    city: str
    state: str
    latitude: float
    longitude: float

    @property
    def label(self) -> str:
        return f"{self.city}, {self.state}" if self.state else self.city


def _locate(model: HybridModel, city: str, state: str | None) -> Place:
    """A city's centre: the mean position of the warehouse's venues there, else the generator's
    list of cities (real coordinates of ~180 music markets); "City, ST" names the state.

    Exact names come first in both, so a real city that has no venue ("Ann Arbor") is placed
    where it is rather than matched to a similar name; then a close spelling ("Chicgo"); then a
    ValidationError naming the city and the close names.
    """
    typed, _, after = city.partition(",")
    state = (state or after).strip() or None
    towns = _towns()
    venues = model.venues
    names = list(dict.fromkeys([*venues["city"].dropna().unique(), *towns["city"]]))
    wanted = typed.strip().lower()
    if wanted not in {n.lower() for n in names}:
        try:
            wanted = names[match_name("city", typed, names)].lower()
        except ValidationError as exc:
            close = list(exc.detail.get("suggestions") or [])
            raise ValidationError(
                f"cannot place {typed.strip()!r}: no venue in the warehouse is in a city of that "
                "name and it is not in Encore's list of cities"
                + (f"; did you mean: {', '.join(close)}?" if close else "")
                + " Name a nearby city, or use city or state instead of near.",
                field="near",
                value=typed.strip(),
                suggestions=close,
            ) from exc
    here = venues[venues["city"].str.lower() == wanted].dropna(subset=["latitude", "longitude"])
    town = towns[towns["city"].str.lower() == wanted]
    if state:
        here = here[here["state"].str.lower() == state.lower()]
        town = town[town["state"].str.lower() == state.lower()]
    if not here.empty:
        # a name shared by cities with venues ("Portland"): more venues first, then bigger metro
        bigger = list(zip(town["state"], town["country"], strict=True))
        counts = here.groupby(["state", "country"]).size()
        best = min(
            counts.index,
            key=lambda k: (-counts[k], bigger.index(k) if k in bigger else len(bigger)),
        )
        at = here[(here["state"] == best[0]) & (here["country"] == best[1])]
        lat, lon = float(at["latitude"].mean()), float(at["longitude"].mean())
        return Place(str(at["city"].iloc[0]), str(best[0]), lat, lon)
    if not town.empty:
        row = town.iloc[0]
        lat, lon = float(row["latitude"]), float(row["longitude"])
        return Place(str(row["city"]), str(row["state"]), lat, lon)
    raise ValidationError(
        f"cannot place {typed.strip()!r} in {state!r}: that state has no city of that name "
        "among the warehouse's venues or Encore's list of cities; leave out the state",
        field="state",
        value=state,
    )


@functools.cache
def _towns() -> pd.DataFrame:
    """The generator's reference cities, biggest metro first (it wins a shared name)."""
    from pipelines.generate.reference import load_reference

    cities = load_reference().cities.sort_values("metro_population", ascending=False, kind="stable")
    return pd.DataFrame(
        {
            "city": cities["city"],
            "state": cities["state_code"],
            "country": cities["country_code"],
            "latitude": cities["latitude"].astype(np.float64),
            "longitude": cities["longitude"].astype(np.float64),
        }
    ).reset_index(drop=True)


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
