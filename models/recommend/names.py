"""Names typed by people resolved against the model's catalogue (artists, genres, places)."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from core.entities import match_name
from models.recommend.hybrid import HybridModel


def resolve_artist(model: HybridModel, text: str) -> int:
    """The position of the artist a user means (name or id, any case)."""
    artists = model.artists
    return match_name("artist", text, list(artists["name"]), ids=list(artists["artist_id"]))


def resolve_genres(model: HybridModel, names: Iterable[str]) -> list[str]:
    """Known genres for the typed ones (lower-cased, fuzzy for typos such as "hiphop")."""
    out = []
    for name in names:
        pos = match_name("genre", name, model.genres)
        out.append(model.genres[pos])
    return out


def resolve_place(model: HybridModel, city: str | None, state: str | None) -> pd.DataFrame:
    """A home row (city, state, country) from a typed city and/or state; city "" for a state."""
    venues = model.venues
    if city:
        places = venues[["city", "state", "country"]].drop_duplicates().reset_index(drop=True)
        if state:
            in_state = places[places["state"].str.lower() == state.strip().lower()]
            places = in_state if not in_state.empty else places
        # one row per city name: a typed "Springfield" takes the first, a state narrows it
        places = places.drop_duplicates(subset=["city"]).reset_index(drop=True)
        pos = match_name("city", city, list(places["city"]))
        return places.iloc[[pos]].reset_index(drop=True)
    assert state is not None
    states = venues[["state", "country"]].drop_duplicates()
    states = states[states["state"] != ""].reset_index(drop=True)
    pos = match_name("state", state, list(states["state"]))
    row = states.iloc[[pos]].reset_index(drop=True)
    row.insert(0, "city", "")
    return row
