"""What the recommenders learn from: the catalogue and fans' purchases, read in one short visit.

Everything is pulled into pandas at once through one `core.warehouse.reading` connection,
closed before any computing starts, so training never holds the warehouse file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from core.settings import Settings
from core.warehouse import reading

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

HALF_LIFE_DAYS: Final = 365.0
"""A purchase counts half as much after a year: tastes drift, but slowly."""

_SALES_SQL: Final = """
SELECT t.fan_id, t.concert_id, c.artist_id, c.venue_id, t.sold_at, t.quantity
FROM ticket_sales t JOIN concerts c USING (concert_id)
WHERE t.fan_id IS NOT NULL"""

_ARTISTS_SQL: Final = """
SELECT a.artist_id, a.name, coalesce(a.genre, 'unknown') AS genre,
       coalesce(a.popularity, 0) AS popularity, coalesce(a.followers, 0) AS followers,
       coalesce(avg(p.tickets_sold) FILTER (WHERE p.status = 'completed'), 0) AS draw,
       coalesce(avg(p.sell_through) FILTER (WHERE p.status = 'completed'), 0) AS sell_through
FROM artists a LEFT JOIN concert_performance p USING (artist_id)
GROUP BY ALL ORDER BY a.artist_id"""

_VENUES_SQL: Final = """
SELECT venue_id, name, city, coalesce(state, '') AS state, country, latitude, longitude,
       coalesce(capacity, 0) AS capacity, coalesce(venue_type, 'unknown') AS venue_type
FROM venues ORDER BY venue_id"""

_CONCERTS_SQL: Final = """
SELECT concert_id, artist_id, venue_id, event_date, status, on_sale_date,
       CAST(price_min AS DOUBLE) AS price_min, CAST(price_max AS DOUBLE) AS price_max
FROM concerts ORDER BY concert_id"""

_FANS_SQL: Final = """
SELECT fan_id, city, coalesce(state, '') AS state, country, favorite_genre FROM fans
ORDER BY fan_id"""

# Where each artist sells: completed concerts' tickets by the venue's market, for venue fit.
_MARKETS_SQL: Final = """
SELECT p.artist_id, v.country, coalesce(v.state, '') AS state, v.city,
       sum(p.tickets_sold) AS tickets, avg(p.sell_through) AS sell_through, count(*) AS concerts
FROM concert_performance p JOIN venues v USING (venue_id)
WHERE p.status = 'completed' GROUP BY ALL"""


@dataclass
class Snapshot:
    """The warehouse as the recommenders see it at one moment."""

    artists: pd.DataFrame
    venues: pd.DataFrame
    concerts: pd.DataFrame
    fans: pd.DataFrame
    sales: pd.DataFrame
    markets: pd.DataFrame
    read_at: datetime
    last_load: dict[str, Any] | None = None
    """The latest successful load the tables had seen (see `models.registry.last_load`)."""

    @property
    def as_of(self) -> pd.Timestamp:
        """The latest purchase: the "now" of the data, for time decay and splits."""
        if self.sales.empty:
            return pd.Timestamp(self.read_at)
        return pd.Timestamp(self.sales["sold_at"].max())

    def describe(self) -> dict[str, Any]:
        """Row counts and the latest sale, stored with a model as its data snapshot."""
        return {
            "artists": len(self.artists),
            "venues": len(self.venues),
            "concerts": len(self.concerts),
            "fans": len(self.fans),
            "sales_with_fan": len(self.sales),
            "latest_sale": self.as_of.isoformat(),
            "read_at": self.read_at.isoformat(),
            "last_load": self.last_load,
        }


def read_snapshot(settings: Settings) -> Snapshot:
    """Read every table the recommenders need through one short-lived read-only connection."""
    from models.registry import last_load

    with reading(settings) as con:
        loaded = last_load(con)
        frames = {
            name: con.execute(sql).df()
            for name, sql in (
                ("artists", _ARTISTS_SQL),
                ("venues", _VENUES_SQL),
                ("concerts", _CONCERTS_SQL),
                ("fans", _FANS_SQL),
                ("sales", _SALES_SQL),
                ("markets", _MARKETS_SQL),
            )
        }
    frames["concerts"]["event_date"] = pd.to_datetime(frames["concerts"]["event_date"])
    frames["concerts"]["on_sale_date"] = pd.to_datetime(frames["concerts"]["on_sale_date"])
    frames["sales"]["sold_at"] = pd.to_datetime(frames["sales"]["sold_at"])
    return Snapshot(read_at=datetime.now(), last_load=loaded, **frames)


@dataclass(frozen=True)
class Index:
    """Positions of ids in the model's matrices."""

    ids: list[str]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_pos", {k: i for i, k in enumerate(self.ids)})

    def __len__(self) -> int:
        return len(self.ids)

    def get(self, key: str) -> int | None:
        """The position of `key`, or None when the model has never seen it."""
        pos: dict[str, int] = self._pos  # type: ignore[attr-defined]
        return pos.get(key)

    def positions(self, keys: pd.Series) -> IntArray:
        """Positions of many ids; -1 for unknown ones."""
        pos: dict[str, int] = self._pos  # type: ignore[attr-defined]
        return np.fromiter((pos.get(k, -1) for k in keys), dtype=np.int64, count=len(keys))


def fan_artist_matrix(
    sales: pd.DataFrame,
    fans: Index,
    artists: Index,
    *,
    now: pd.Timestamp,
    half_life_days: float = HALF_LIFE_DAYS,
    key: str = "artist_id",
) -> sp.csr_matrix:
    """Tickets each fan bought per artist (or per `key`, e.g. venue_id), decayed by age at `now`."""
    rows = fans.positions(sales["fan_id"])
    cols = artists.positions(sales[key])
    age_days = (now - sales["sold_at"]).dt.total_seconds().to_numpy() / 86_400.0
    weight = sales["quantity"].to_numpy(np.float64) * np.power(
        0.5, np.clip(age_days, 0, None) / half_life_days
    )
    keep = (rows >= 0) & (cols >= 0)
    matrix = sp.csr_matrix(
        (weight[keep], (rows[keep], cols[keep])), shape=(len(fans), len(artists))
    )
    matrix.sum_duplicates()
    return matrix
