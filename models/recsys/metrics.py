"""Top-k ranking metrics with binary relevance, computed for all users at once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp


@dataclass(frozen=True)
class RankingMetrics:
    """Metrics at k averaged over evaluated users; coverage is over the whole catalogue."""

    precision: float
    recall: float
    ndcg: float
    map: float
    coverage: float

    def as_dict(self, k: int) -> dict[str, float]:
        """The metrics keyed the way the benchmark reports them, e.g. `ndcg@10`."""
        return {
            f"precision@{k}": self.precision,
            f"recall@{k}": self.recall,
            f"ndcg@{k}": self.ndcg,
            f"map@{k}": self.map,
            f"coverage@{k}": self.coverage,
        }


def hit_matrix(
    recommended: npt.NDArray[np.int64], relevant: sp.csr_matrix
) -> npt.NDArray[np.bool_]:
    """hits[u, r] is True when the r-th recommendation of row u is in row u of `relevant`."""
    n_rows, k = recommended.shape
    if n_rows == 0:
        return np.zeros((0, k), dtype=bool)
    rows = np.repeat(np.arange(n_rows), k)
    looked_up = relevant[rows, recommended.ravel()]
    hits: npt.NDArray[np.bool_] = np.asarray(looked_up).reshape(n_rows, k) != 0
    return hits


def per_user_metrics(
    recommended: npt.NDArray[np.int64], relevant: sp.csr_matrix
) -> dict[str, npt.NDArray[np.float64]]:
    """Per-user precision, recall, NDCG and average precision at k (keys without "@k").

    `recommended` is (users × k) item indices, best first, without repeats per row;
    `relevant` has the same row order. Recall divides by all of a user's relevant items;
    NDCG's ideal and AP's normaliser use min(|relevant|, k), the usual convention, so a
    perfect list scores 1 even when a user has more than k relevant items.
    """
    relevant = sp.csr_matrix(relevant)
    if recommended.ndim != 2 or recommended.shape[0] != relevant.shape[0]:
        raise ValueError(
            f"recommended must be (users × k) with {relevant.shape[0]} rows; "
            f"got shape {recommended.shape}"
        )
    n_relevant = np.diff(relevant.indptr).astype(np.float64)
    if (n_relevant == 0).any():
        raise ValueError("every evaluated user needs at least one relevant item")
    k = recommended.shape[1]
    hits = hit_matrix(recommended, relevant).astype(np.float64)
    n_hits = hits.sum(axis=1)

    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal_len = np.minimum(n_relevant, k).astype(np.int64)
    idcg = np.concatenate([[0.0], np.cumsum(discounts)])[ideal_len]

    # precision at each rank, counted only where that rank is a hit
    precision_at_rank = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    return {
        "precision": n_hits / k,
        "recall": n_hits / n_relevant,
        "ndcg": (hits @ discounts) / idcg,
        "map": (precision_at_rank * hits).sum(axis=1) / np.minimum(n_relevant, k),
    }


def ranking_metrics(
    recommended: npt.NDArray[np.int64], relevant: sp.csr_matrix, n_items: int
) -> RankingMetrics:
    """Per-user metrics averaged over users, plus distinct recommended items / `n_items`."""
    per_user = per_user_metrics(recommended, relevant)
    return RankingMetrics(
        precision=float(per_user["precision"].mean()),
        recall=float(per_user["recall"].mean()),
        ndcg=float(per_user["ndcg"].mean()),
        map=float(per_user["map"].mean()),
        coverage=float(np.unique(recommended).size / n_items),
    )
