"""The offline artist-recommendation benchmark: every model on one holdout split of HetRec."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.recsys.baselines import ALS, EASE, Popularity, Recommender, als_available, recommend
from models.recsys.data import Interactions, load_user_artists
from models.recsys.metrics import per_user_metrics, ranking_metrics
from models.recsys.ours import EncoreRecommender
from models.recsys.split import MIN_ITEMS, SEED, TEST_FRACTION_PERCENT, Split, holdout_split

logger = logging.getLogger(__name__)

K = 10

ModelFactory = Callable[[], Recommender]


def default_models(*, include_als: bool = True) -> list[ModelFactory]:
    """Baselines first, then ours; ALS only when asked for and `implicit` imports."""
    factories: list[ModelFactory] = [Popularity, EASE]
    if include_als:
        if als_available():
            factories.append(ALS)
        else:
            logger.warning("ALS skipped: the optional `implicit` package is not installed")
    factories.append(EncoreRecommender)
    return factories


def evaluate(model: Recommender, split: Split, n_items: int, k: int = K) -> dict[str, Any]:
    """Fit on the split's training matrix, recommend k unseen items, score against the test."""
    start = time.perf_counter()
    model.fit(split.train)
    train_s = time.perf_counter() - start
    recs = recommend(model, split.train, split.users, k)
    row: dict[str, Any] = {"name": model.name}
    row.update(ranking_metrics(recs, split.test[split.users], n_items).as_dict(k))
    row["train_s"] = train_s
    logger.info("%s: ndcg@%d=%.4f train %.2fs", model.name, k, row[f"ndcg@{k}"], train_s)
    return row


def run(data: Interactions, factories: Sequence[ModelFactory], *, k: int = K) -> dict[str, Any]:
    """Split `data` with the fixed protocol and evaluate each model on that one split."""
    split = holdout_split(data.matrix)
    return {
        "models": [evaluate(factory(), split, data.n_items, k) for factory in factories],
        "protocol": {
            "seed": SEED,
            "test_percent": TEST_FRACTION_PERCENT,
            "min_items": MIN_ITEMS,
            "k": k,
        },
        "n_users": data.n_users,
        "n_items": data.n_items,
        "n_evaluated_users": len(split.users),
        "n_train_interactions": int(split.train.nnz),
        "n_test_interactions": int(split.test.nnz),
    }


def bench_recsys(data_dir: Path, *, include_als: bool = True) -> dict[str, Any]:
    """Benchmark popularity, EASE, ALS (if `implicit` is installed) and ours on HetRec Last.fm.

    `data_dir` is the hetrec2011-lastfm-2k folder or its parent. Returns
    `{"models": [{"name", "precision@10", "recall@10", "ndcg@10", "map@10", "coverage@10",
    "train_s"}, ...], ...}` with split sizes and the protocol alongside.
    """
    data = load_user_artists(data_dir)
    return run(data, default_models(include_als=include_als))


def paired_ndcg_gap(
    split: Split, first: Recommender, second: Recommender, *, k: int = K
) -> tuple[float, float]:
    """Mean per-user NDCG@k gap (first − second) and its standard error, for fitted models.

    A benchmark margin is only worth reporting next to its noise; the paired standard error
    removes the between-user variance both models share.
    """
    relevant = split.test[split.users]
    gaps = per_user_metrics(recommend(first, split.train, split.users, k), relevant)["ndcg"]
    gaps = gaps - per_user_metrics(recommend(second, split.train, split.users, k), relevant)["ndcg"]
    return float(gaps.mean()), float(gaps.std(ddof=1) / np.sqrt(gaps.size))
