"""Names typed by people resolved against the model's catalogue: exact first, then rapidfuzz."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import pandas as pd
from rapidfuzz import fuzz, process, utils

from core.errors import ValidationError
from models.recommend.hybrid import HybridModel

FUZZY_CUTOFF: Final = 86.0
"""WRatio score above which a typed name is taken as meant (typos, missing 'The')."""


def resolve_artist(model: HybridModel, text: str) -> int:
    """The position of the artist a user means (name or id, any case)."""
    artists = model.artists
    return _resolve("artist", text, list(artists["artist_id"]), list(artists["name"]))


def resolve_genres(model: HybridModel, names: Iterable[str]) -> list[str]:
    """Known genres for the typed ones (lower-cased, fuzzy for typos such as "hiphop")."""
    out = []
    for name in names:
        pos = _resolve("genre", name, model.genres, model.genres)
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
        pos = _resolve("city", city, list(places["city"]), list(places["city"]))
        return places.iloc[[pos]].reset_index(drop=True)
    assert state is not None
    states = venues[["state", "country"]].drop_duplicates()
    states = states[states["state"] != ""].reset_index(drop=True)
    pos = _resolve("state", state, list(states["state"]), list(states["state"]))
    row = states.iloc[[pos]].reset_index(drop=True)
    row.insert(0, "city", "")
    return row


def _resolve(kind: str, text: str, ids: list[str], names: list[str]) -> int:
    wanted = text.strip()
    if not wanted:
        raise ValidationError(f"name the {kind}", field=kind)
    lowered = wanted.lower()
    for i, (key, name) in enumerate(zip(ids, names, strict=True)):
        if key == wanted or str(name).lower() == lowered or str(key).lower() == lowered:
            return i
    # default_process lower-cases and strips punctuation, so case never costs a match
    best = process.extract(
        wanted,
        dict(enumerate(names)),
        scorer=fuzz.WRatio,
        processor=utils.default_process,
        limit=3,
    )
    if best and best[0][1] >= FUZZY_CUTOFF:
        return int(best[0][2])
    close = ", ".join(dict.fromkeys(str(name) for name, _, _ in best))
    raise ValidationError(
        f"no {kind} named {wanted!r}" + (f"; did you mean: {close}?" if close else ""),
        field=kind,
        value=wanted,
        suggestions=[str(name) for name, _, _ in best],
    )
