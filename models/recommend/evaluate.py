"""Time-based holdout: train on purchases before a cutoff, score what fans bought after it.

Two views, both with the benchmark's metrics (models/recsys/metrics.py):

- concerts (the product): for each fan with purchases before the cutoff, rank the concerts
  taking place after the cutoff that were on sale in the test window, within the fan's reach;
  relevant = the concerts they bought tickets for in the window.
- artists: rank artists the fan had not bought before; relevant = new artists bought in the
  window (classic next-artist recommendation, no reach involved).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from models.recommend.data import IntArray, Snapshot
from models.recommend.hybrid import HybridModel, Weights
from models.recsys.metrics import ranking_metrics

TEST_DAYS: Final = 60
MAX_EVAL_FANS: Final = 4000
K: Final = 10


@dataclass
class Holdout:
    """The split: cutoff, candidate concerts, and the fans evaluated with what they bought."""

    cutoff: pd.Timestamp
    candidates: pd.DataFrame
    fans: IntArray  # positions in the fan index
    concerts_bought: sp.csr_matrix  # eval fans × candidates
    artists_bought: sp.csr_matrix  # eval fans × artists (test window, all)
    reason: str | None = None
    """Why no fan can be evaluated (None when some can): the model is then not measured."""


def make_holdout(
    snapshot: Snapshot,
    model: HybridModel,
    *,
    test_days: int = TEST_DAYS,
    max_fans: int = MAX_EVAL_FANS,
    seed: int = 42,
) -> Holdout:
    """Fans with history before the cutoff and purchases after it (a seeded sample of them)."""
    cutoff = snapshot.as_of - pd.Timedelta(days=test_days)
    concerts = snapshot.concerts
    candidates = concerts[
        (concerts["event_date"] >= cutoff.normalize())
        & (concerts["status"] != "cancelled")
        & (concerts["on_sale_date"].fillna(cutoff) <= snapshot.as_of)
    ].reset_index(drop=True)
    test = snapshot.sales[snapshot.sales["sold_at"] >= cutoff]
    fan_pos = model.fan_index.positions(test["fan_id"])
    has_history = np.asarray(model.purchases.sum(axis=1)).ravel() > 0
    cand_pos = pd.Series(np.arange(len(candidates)), index=candidates["concert_id"])
    concert_col = cand_pos.reindex(test["concert_id"]).fillna(-1).to_numpy(np.int64)
    keep = (fan_pos >= 0) & (concert_col >= 0)
    keep &= has_history[np.maximum(fan_pos, 0)]
    fans = np.unique(fan_pos[keep])
    rng = np.random.default_rng(seed)
    if len(fans) > max_fans:
        fans = np.sort(rng.choice(fans, size=max_fans, replace=False))
    row_of = np.full(len(model.fan_index), -1, dtype=np.int64)
    row_of[fans] = np.arange(len(fans))
    rows = row_of[np.maximum(fan_pos, 0)]
    sel = keep & (rows >= 0)
    concerts_bought = sp.csr_matrix(
        (np.ones(int(sel.sum())), (rows[sel], concert_col[sel])),
        shape=(len(fans), len(candidates)),
    )
    artist_col = model.artist_index.positions(test["artist_id"])
    sel_a = (rows >= 0) & (fan_pos >= 0) & (artist_col >= 0)
    artists_bought = sp.csr_matrix(
        (np.ones(int(sel_a.sum())), (rows[sel_a], artist_col[sel_a])),
        shape=(len(fans), len(model.artist_index)),
    )
    concerts_bought.data[:] = 1.0
    artists_bought.data[:] = 1.0
    reason = None if len(fans) else _why_empty(fan_pos, has_history, concert_col, test_days)
    return Holdout(cutoff, candidates, fans, concerts_bought, artists_bought, reason)


def _why_empty(
    fan_pos: IntArray, has_history: npt.NDArray[np.bool_], concert_col: IntArray, test_days: int
) -> str:
    """Why a holdout has no fan to evaluate, in the terms of `make_holdout`'s filters.

    New data makes this common: a refresh after one new sale puts only that sale in the window,
    so a first-time buyer, or a purchase for a cancelled concert, leaves nothing to measure.
    """
    known = fan_pos >= 0
    returning = known & has_history[np.maximum(fan_pos, 0)]
    head = (
        f"no fan in the {test_days}-day holdout window has both purchases before it and a "
        "purchase of a candidate concert"
    )
    if not returning.any():
        buyers = len(np.unique(fan_pos[known]))
        return f"{head}: none of the {buyers} fan(s) who bought in the window had bought before"
    return (
        f"{head}: the {len(np.unique(fan_pos[returning]))} returning fan(s) bought only "
        f"concerts that are not candidates ({int(returning.sum())} sale(s) of cancelled "
        "concerts, concerts over before the window, or concerts not yet on sale)"
    )


def evaluate(
    model: HybridModel, holdout: Holdout, weights: Weights | None = None, *, batch: int = 500
) -> dict[str, float]:
    """P/R/NDCG/MAP/coverage@10 for concerts (no prefix) and for new artists (`artist_`).

    Only what was measured is returned: with no fan to evaluate (`holdout.reason`) that is
    `eval_fans` 0 alone, and the `artist_` metrics are left out when no evaluated fan bought an
    artist new to them. A metric is never NaN, so nothing reads "nan" as a score.
    """
    if len(holdout.fans) == 0:
        return {"eval_fans": 0.0}
    concert_recs, artist_recs, artist_rows = [], [], []
    history = model.purchases[holdout.fans]
    homes = model.fans.iloc[holdout.fans][["city", "state", "country"]].reset_index(drop=True)
    stated = model.genre_rows([[g] for g in model.fans["favorite_genre"].iloc[holdout.fans]])
    new_artists = holdout.artists_bought - holdout.artists_bought.multiply(history > 0)
    new_artists.eliminate_zeros()
    for start in range(0, len(holdout.fans), batch):
        part = slice(start, start + batch)
        scores = model.artist_scores(history[part], stated[part], weights)
        concerts = model.concert_scores(
            scores,
            homes.iloc[part],
            holdout.candidates,
            weights=weights,
            venue_visits=model.venue_visits[holdout.fans[part]],
        )
        concert_recs.append(_top_k(concerts, K))
        seen = history[part].toarray() > 0
        artist_recs.append(_top_k(np.where(seen, -np.inf, scores), K))
        artist_rows.append(np.arange(start, min(start + batch, len(holdout.fans))))
    out = ranking_metrics(
        np.vstack(concert_recs), holdout.concerts_bought, len(holdout.candidates)
    ).as_dict(K)
    has_new = np.diff(new_artists.indptr) > 0
    if has_new.any():
        artist = ranking_metrics(
            np.vstack(artist_recs)[has_new], new_artists[has_new], len(model.artist_index)
        ).as_dict(K)
        out.update({f"artist_{name}": value for name, value in artist.items()})
    out["eval_fans"] = float(len(holdout.fans))
    return out


def _top_k(scores: np.ndarray, k: int) -> IntArray:
    """Indices of the k best scores per row, best first (ties broken by position)."""
    k = min(k, scores.shape[1])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
    return np.asarray(np.take_along_axis(top, order, axis=1), dtype=np.int64)
