"""Concert, artist and venue recommendations (requirement 4.4): CF, content and a hybrid.

data.py      the warehouse snapshot and the decayed fan × artist purchases
cf.py        EDLAE in item space, item-kNN (popularity from models/recsys)
content.py   artist and venue similarity, distances
hybrid.py    the blended model, reach and concert scores
evaluate.py  the time-based holdout and its metrics
refresh.py   train / register / load the champion (`train` is `encore train recommender`)
service.py   recommend_concerts, recommend_batch, similar_artists, venues_for_artist
bench.py     hybrid vs CF-only vs content-only vs popularity; cli.py the Typer apps
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from core.lazy import lazy_exports

DEFAULT_RADIUS_KM: Final = 150.0
"""How far from a fan's city a concert is in reach (beside their own state)."""
NEAR_KM: Final = DEFAULT_RADIUS_KM
"""What "near a city" means by default: about a 90-minute drive, the distance a metro's
concertgoers travel for a show (a tour plays one of Chicago and Milwaukee, ~130 km apart, not
both), and the reach the recommender gives a fan's home, so both mean one thing. Here, apart from
the models, so callers can read them without importing pandas and SciPy."""

if TYPE_CHECKING:
    from models.recommend.refresh import load_model, train
    from models.recommend.service import (
        recommend_batch,
        recommend_concerts,
        similar_artists,
        venues_for_artist,
    )

_EXPORTS = {
    "load_model": "models.recommend.refresh",
    "train": "models.recommend.refresh",
    "recommend_batch": "models.recommend.service",
    "recommend_concerts": "models.recommend.service",
    "similar_artists": "models.recommend.service",
    "venues_for_artist": "models.recommend.service",
}

__all__ = [
    "DEFAULT_RADIUS_KM",
    "NEAR_KM",
    "load_model",
    "recommend_batch",
    "recommend_concerts",
    "similar_artists",
    "train",
    "venues_for_artist",
]


# imported on first use: importing the package (as `encore --help` does) costs no pandas and scipy
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
