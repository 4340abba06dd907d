"""Ticket sales: transactions for the concerts sold through Encore, box scores for the rest.

Enough concerts are sold through Encore's ticketing to reach the scale's transaction target;
their tickets become individual sales (quantities, tiers, channels, a sales curve from on-sale
day to show day) bought by fans near the venue whose tastes match the artist. The other
completed concerts report their outcome as box-score results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_QUANTITIES: Final = np.arange(1, 9)
_QUANTITY_P: Final = np.array([0.28, 0.40, 0.11, 0.13, 0.03, 0.03, 0.01, 0.01])
MEAN_QUANTITY: Final = float((_QUANTITIES * _QUANTITY_P).sum())
_CHANNELS: Final = np.array(["web", "mobile", "box_office", "partner"])
_CHANNEL_P: Final = np.array([0.48, 0.34, 0.08, 0.10])
_TIERS: Final = np.array(["general", "reserved", "premium", "vip"])
_TIER_P: Final = np.array([0.50, 0.28, 0.15, 0.07])
_CLUB_TIER_P: Final = np.array([0.9, 0.0, 0.0, 0.1])
_TIER_POSITION: Final = np.array([0.0, 0.3, 0.6, 1.0])  # where each tier sits from min to max price
_TASTE_BETA: Final = 6.0  # how strongly taste steers who buys
_TRAVELLERS: Final = 0.06  # share of buyers who travel from anywhere in the country
_HOUR: Final = 3600


def plan_ticketing(
    rng: np.random.Generator, concerts: pd.DataFrame, as_of: date, target_sales: int
) -> np.ndarray:
    """Choose which concerts Encore ticketed: a random set whose sales reach `target_sales`."""
    on_sale = pd.to_datetime(concerts["on_sale_date"]).to_numpy()
    event = pd.to_datetime(concerts["event_date"]).to_numpy()
    now = np.datetime64(as_of)
    eligible = (
        (concerts["status"].to_numpy() != "cancelled")
        & (on_sale < now)
        & (concerts["tickets"].to_numpy() > 0)
    )
    elapsed = np.clip((now - on_sale) / np.maximum(event - on_sale, np.timedelta64(1, "D")), 0, 1)
    expected = concerts["tickets"].to_numpy() * elapsed**0.7 / MEAN_QUANTITY
    order = rng.permutation(np.flatnonzero(eligible))
    # 3% headroom: actual quantities vary around the mean
    cutoff = int(np.searchsorted(np.cumsum(expected[order]), target_sales * 1.03)) + 1
    ticketed = np.zeros(len(concerts), dtype=bool)
    ticketed[order[:cutoff]] = True
    return ticketed


def box_scores(concerts: pd.DataFrame, ticketed: np.ndarray) -> pa.Table:
    """Results reported by the box office for completed concerts Encore did not ticket."""
    done = concerts[(concerts["status"] == "completed") & ~ticketed]
    avg_price = done["price_min"] + (done["price_max"] - done["price_min"]) * float(
        (_TIER_P * _TIER_POSITION).sum()
    )
    return pa.table(
        {
            "concert_id": done["concert_id"].to_numpy(),
            "shows": np.ones(len(done), dtype=np.int32),
            "tickets_sold": done["tickets"].to_numpy(np.int32),
            "capacity": done["capacity"].to_numpy(np.int32),
            "gross_revenue": (done["tickets"] * avg_price).round(2).to_numpy(),
            "source": np.full(len(done), "box_office_report"),
        }
    )


@dataclass(frozen=True)
class _Pool:
    """Fans of one area, with their columns laid out contiguously for fast weighting."""

    ids: np.ndarray  # positions in the fans table
    taste: np.ndarray
    activity: np.ndarray
    city: np.ndarray

    @classmethod
    def of(cls, columns: dict[str, np.ndarray], idx: np.ndarray) -> _Pool:
        return cls(**{name: np.ascontiguousarray(col[idx]) for name, col in columns.items()})

    def pick(
        self, rng: np.random.Generator, k: int, taste: np.ndarray, home_city: str | None
    ) -> np.ndarray:
        """`k` fans drawn by activity x taste match (x 2.5 for the venue's own city)."""
        if k == 0 or len(self.ids) == 0:
            return np.empty(0, dtype=np.int64)
        w = self.activity * np.exp(_TASTE_BETA * (self.taste @ taste))
        if home_city is not None:
            w = np.where(self.city == home_city, w * 2.5, w)
        picked: np.ndarray = self.ids[rng.choice(len(w), size=k, p=w / w.sum())]
        return picked


class _FanPools:
    """Fans grouped by where they live, for picking buyers near a venue."""

    def __init__(self, rng: np.random.Generator, fans: pd.DataFrame) -> None:
        columns = {
            "ids": np.arange(len(fans)),
            "taste": np.stack(list(fans["taste"])),
            "activity": fans["activity"].to_numpy(float),
            "city": fans["city"].to_numpy(),
        }
        region = fans["country"] + "/" + fans["state"].fillna(fans["city"])
        self.by_region = {
            key: _Pool.of(columns, np.asarray(idx))
            for key, idx in fans.groupby(region).indices.items()
        }
        # travellers: a sample of each country's fans, enough to spread purchases around
        self.by_country = {
            country: _Pool.of(columns, rng.permutation(np.asarray(idx))[:3_000])
            for country, idx in fans.groupby("country").indices.items()
        }
        self.anyone = _Pool.of(columns, rng.permutation(len(fans))[:3_000])

    def buyers(
        self,
        rng: np.random.Generator,
        k: int,
        place: tuple[str, str, str],
        artist_taste: np.ndarray,
    ) -> np.ndarray:
        """`k` fans (positions), mostly locals whose taste fits the artist, some travellers.

        `place` is the venue's (country, state or city, city).
        """
        country, region, city = place
        travel = self.by_country.get(country, self.anyone)
        local = self.by_region.get(f"{country}/{region}", travel)
        n_travel = rng.binomial(k, _TRAVELLERS)
        return np.concatenate(
            [
                local.pick(rng, k - n_travel, artist_taste, home_city=city),
                travel.pick(rng, n_travel, artist_taste, home_city=None),
            ]
        )


def make_sales(
    rng: np.random.Generator,
    concerts: pd.DataFrame,
    ticketed: np.ndarray,
    artists: pd.DataFrame,
    venues: pd.DataFrame,
    fans: pd.DataFrame,
    as_of: date,
    chunk_rows: int,
    id_width: int,
) -> Iterator[pa.Table]:
    """Yield the ticket-sale transactions in chunks of about `chunk_rows` rows."""
    pools = _FanPools(rng, fans)
    places = list(
        zip(
            venues["country"],
            venues["state"].fillna(venues["city"]),
            venues["city"],
            strict=True,
        )
    )
    is_club = (venues["venue_type"] == "club").to_numpy()
    tastes = np.stack(list(artists["taste"]))
    cutoff = np.datetime64(datetime.combine(as_of, datetime.min.time()), "s")
    pending: list[dict[str, np.ndarray]] = []
    pending_rows = 0
    next_id = 1
    ids = _Ids(pa.array(concerts["concert_id"]), pa.array(fans["fan_id"]), id_width)
    rows: Iterator[Any] = concerts[ticketed].itertuples(index=True)
    for row in rows:
        v_idx, a_idx = int(row.v_idx), int(row.a_idx)
        buyers = partial(pools.buyers, place=places[v_idx], artist_taste=tastes[a_idx])
        parts = _one_concert(rng, row, bool(is_club[v_idx]), buyers, cutoff)
        if parts is None:
            continue
        pending.append(parts)
        pending_rows += len(parts["quantity"])
        if pending_rows >= chunk_rows:
            yield _chunk(pending, next_id, ids)
            next_id += pending_rows
            pending, pending_rows = [], 0
    if pending:
        yield _chunk(pending, next_id, ids)


def _one_concert(
    rng: np.random.Generator,
    row: Any,
    is_club: bool,
    buyers: Callable[[np.random.Generator, int], np.ndarray],
    cutoff: np.datetime64,
) -> dict[str, np.ndarray] | None:
    tickets = int(row.tickets)
    draws = int(tickets / MEAN_QUANTITY * 1.2) + 16
    qty = rng.choice(_QUANTITIES, size=draws, p=_QUANTITY_P)
    while qty.sum() < tickets:  # rare: a run of small orders
        qty = np.concatenate([qty, rng.choice(_QUANTITIES, size=draws, p=_QUANTITY_P)])
    total = np.cumsum(qty)
    n = int(np.searchsorted(total, tickets)) + 1
    qty = qty[:n]
    qty[-1] -= total[n - 1] - tickets

    # the sales curve: an on-sale rush, a steady middle and a late spike before the show
    opens = np.datetime64(row.on_sale_date, "s") + 10 * _HOUR
    show = np.datetime64(row.event_date, "s") + 20 * _HOUR
    kind = rng.choice(3, size=n, p=[0.4, 0.4, 0.2])
    position = np.where(
        kind == 0,
        rng.exponential(0.04, n),
        np.where(kind == 1, rng.random(n), 1 - rng.exponential(0.03, n)),
    )
    position = np.clip(position, 0.0, 0.999)
    if tickets >= int(row.capacity):
        position *= rng.uniform(0.3, 0.95)  # a sell-out stops selling early
    seconds = (position * (show - opens).astype(np.int64)).astype(np.int64)
    sold_at = np.sort(opens + seconds.astype("timedelta64[s]"))
    keep = sold_at < cutoff
    if not keep.any():
        return None

    tier_p = _CLUB_TIER_P if is_club else _TIER_P
    tier = rng.choice(len(_TIERS), size=n, p=tier_p)
    low = round(float(row.price_min) * 100)
    high = round(float(row.price_max) * 100)
    unit_cents = np.round(low + _TIER_POSITION[tier] * (high - low)).astype(np.int64)
    channel = rng.choice(len(_CHANNELS), size=n, p=_CHANNEL_P)
    has_fan = (channel <= 1) | ((channel == 3) & (rng.random(n) < 0.5))
    fan = np.full(n, -1, dtype=np.int64)  # -1: an anonymous buyer
    fan[has_fan] = buyers(rng, int(has_fan.sum()))
    return {
        "concert": np.full(int(keep.sum()), row.Index, dtype=np.int64),
        "fan": fan[keep],
        "sold_at": sold_at[keep],
        "channel": channel[keep].astype(np.int8),
        "price_tier": tier[keep].astype(np.int8),
        "quantity": qty[keep].astype(np.int32),
        "unit_cents": unit_cents[keep],
    }


@dataclass(frozen=True)
class _Ids:
    """What a chunk's integer positions turn into: the concerts' and fans' ids."""

    concerts: pa.Array
    fans: pa.Array
    sale_width: int


def _chunk(parts: list[dict[str, np.ndarray]], first_id: int, ids: _Ids) -> pa.Table:
    """Assemble a chunk with Arrow kernels: ids by `take`, labels by dictionary decoding."""
    cols = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    n = len(cols["quantity"])
    numbers = pa.array(np.arange(first_id, first_id + n)).cast(pa.string())
    fan = cols["fan"]
    unit = cols["unit_cents"]
    return pa.table(
        {
            "sale_id": pc.binary_join_element_wise(
                "S", pc.utf8_lpad(numbers, ids.sale_width, "0"), ""
            ),
            "concert_id": ids.concerts.take(pa.array(cols["concert"])),
            "fan_id": ids.fans.take(pa.array(np.maximum(fan, 0), mask=fan < 0)),
            "sold_at": pa.array(cols["sold_at"], pa.timestamp("s")),
            "channel": _labels(cols["channel"], _CHANNELS),
            "price_tier": _labels(cols["price_tier"], _TIERS),
            "quantity": pa.array(cols["quantity"], pa.int32()),
            "unit_price": unit / 100.0,
            "amount": unit * cols["quantity"] / 100.0,
        }
    )


def _labels(codes: np.ndarray, labels: np.ndarray) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(labels)).cast(pa.string())
