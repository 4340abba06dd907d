"""Recommender benchmark: metrics, the holdout protocol, EASE's algebra and the real-data run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from core.errors import SourceError
from models.recsys.baselines import EASE, Popularity, als_available, recommend
from models.recsys.bench import bench_recsys
from models.recsys.data import from_frame, load_user_artists
from models.recsys.metrics import ranking_metrics
from models.recsys.ours import EncoreRecommender, tune
from models.recsys.split import holdout_split, n_held_out

# ---- metrics ----------------------------------------------------------------------------


def _relevant(rows: list[list[int]], n_items: int = 10) -> sp.csr_matrix:
    data = [(r, c) for r, cols in enumerate(rows) for c in cols]
    r, c = zip(*data, strict=True)
    return sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(len(rows), n_items))


def test_metrics_match_hand_computed_values() -> None:
    recommended = np.array([[0, 1, 2], [3, 4, 5]])
    relevant = _relevant([[0, 2, 7], [5]])

    m = ranking_metrics(recommended, relevant, n_items=10)

    # user 0: hits at ranks 1 and 3 of 3 relevant; user 1: a hit at rank 3 of 1 relevant
    ndcg0 = (1 + 1 / np.log2(4)) / (1 + 1 / np.log2(3) + 1 / np.log2(4))
    ndcg1 = (1 / np.log2(4)) / 1
    assert m.precision == pytest.approx((2 / 3 + 1 / 3) / 2)
    assert m.recall == pytest.approx((2 / 3 + 1) / 2)
    assert m.ndcg == pytest.approx((ndcg0 + ndcg1) / 2)
    assert m.map == pytest.approx(((1 + 2 / 3) / 3 + (1 / 3) / 1) / 2)
    assert m.coverage == pytest.approx(6 / 10)


def test_a_perfect_list_scores_one_even_with_more_relevant_than_k() -> None:
    m = ranking_metrics(np.array([[4, 2]]), _relevant([[1, 2, 3, 4]]), n_items=10)

    assert (m.precision, m.ndcg, m.map) == (1.0, pytest.approx(1.0), pytest.approx(1.0))
    assert m.recall == pytest.approx(0.5)


def test_metrics_refuse_misaligned_rows_and_users_without_relevant_items() -> None:
    with pytest.raises(ValueError, match="2 rows"):
        ranking_metrics(np.array([[0, 1]]), _relevant([[0], [1]]), n_items=10)
    empty = sp.csr_matrix((1, 10))
    with pytest.raises(ValueError, match="at least one relevant"):
        ranking_metrics(np.array([[0, 1]]), empty, n_items=10)


# ---- split ------------------------------------------------------------------------------


def _counts_matrix(items_per_user: list[int], n_items: int = 60) -> sp.csr_matrix:
    rng = np.random.default_rng(0)
    rows = []
    for n in items_per_user:
        row = np.zeros(n_items)
        row[rng.choice(n_items, size=n, replace=False)] = rng.integers(1, 500, size=n)
        rows.append(row)
    return sp.csr_matrix(np.array(rows))


def test_n_held_out_is_a_floored_fifth_but_at_least_one() -> None:
    assert [n_held_out(n) for n in (5, 9, 10, 14, 15, 50)] == [1, 1, 2, 2, 3, 10]


def test_split_holds_out_the_right_counts_and_keeps_everything_else_for_training() -> None:
    matrix = _counts_matrix([3, 5, 9, 10, 4, 50])

    split = holdout_split(matrix)

    assert split.users.tolist() == [1, 2, 3, 5]  # users with >= 5 artists, ascending
    assert np.diff(split.test.indptr).tolist() == [0, 1, 1, 2, 0, 10]
    assert (split.train + split.test != matrix).nnz == 0
    assert split.train.multiply(split.test).nnz == 0


def test_split_replays_one_generator_over_users_and_sorted_artists() -> None:
    matrix = _counts_matrix([6, 3, 12, 20])
    rng = np.random.default_rng(42)
    expected = []
    for user in (0, 2, 3):
        artists = np.sort(matrix[user].indices)
        picked = rng.choice(len(artists), size=n_held_out(len(artists)), replace=False)
        expected.append(sorted(artists[picked].tolist()))

    split = holdout_split(matrix)

    assert [sorted(split.test[u].indices.tolist()) for u in (0, 2, 3)] == expected
    again = holdout_split(matrix)
    assert (again.test != split.test).nnz == 0
    assert (holdout_split(matrix, seed=1).test != split.test).nnz > 0


# ---- models -----------------------------------------------------------------------------


@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_ease_user_sized_solution_equals_the_textbook_item_sized_one(dropout: float) -> None:
    matrix = _counts_matrix([5, 8, 12, 3, 20, 7, 9, 15], n_items=30)
    x = np.log1p(matrix.toarray())
    gram = x.T @ x
    p = np.linalg.inv(gram + np.diag(4.0 + dropout * np.diag(gram)))
    weights = np.eye(30) - p / np.diag(p)

    model = EASE(4.0, dropout=dropout)
    model.fit(matrix)

    np.testing.assert_allclose(model.score(np.arange(8)), x @ weights, atol=1e-10)


@pytest.mark.parametrize("model", [Popularity(), EASE(10.0), EncoreRecommender()])
def test_recommendations_are_distinct_and_never_already_played(model: EASE) -> None:
    matrix = _counts_matrix([5, 8, 12, 3, 20, 7, 9, 15], n_items=30)
    model.fit(matrix)

    recs = recommend(model, matrix, np.arange(8), k=5, batch_size=3)

    assert recs.shape == (8, 5)
    assert all(len(set(row)) == 5 for row in recs.tolist())
    assert matrix[np.repeat(np.arange(8), 5), recs.ravel()].sum() == 0


def test_tuning_searches_the_grid_on_training_data_and_ranks_best_first() -> None:
    matrix = _counts_matrix([12, 15, 9, 20, 11, 14, 18, 10], n_items=30)

    results = tune(matrix, lambdas=(0.3, 3.0), dropouts=(0.0, 1.0))

    assert len(results) == 4
    assert [r.ndcg for r in results] == sorted((r.ndcg for r in results), reverse=True)


# ---- data and the real benchmark --------------------------------------------------------


def test_from_frame_orders_rows_and_columns_by_id() -> None:
    frame = pd.DataFrame({"userID": [9, 2, 2], "artistID": [7, 7, 3], "weight": [5, 1, 2]})

    data = from_frame(frame)

    assert data.user_ids.tolist() == [2, 9]
    assert data.artist_ids.tolist() == [3, 7]
    assert data.matrix.toarray().tolist() == [[2.0, 1.0], [0.0, 5.0]]


def test_a_folder_without_the_dataset_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="hetrec2011-lastfm-2k folder"):
        load_user_artists(tmp_path)


@pytest.mark.slow
def test_on_real_listening_data_ours_beats_ease_which_beats_popularity(
    shared_data: Path,
) -> None:
    report = bench_recsys(shared_data, include_als=als_available())

    by_name = {row["name"]: row for row in report["models"]}
    ndcg = {name: row["ndcg@10"] for name, row in by_name.items()}
    assert report["n_evaluated_users"] == 1877
    # the reference figures for this protocol: popularity 0.080, EASE 0.237
    assert ndcg["EASE"] == pytest.approx(0.237, abs=0.002)
    assert ndcg["most-popular"] < ndcg["EASE"]
    assert ndcg["Encore (EDLAE)"] > ndcg["EASE"]
    assert set(by_name["EASE"]) == {
        "name",
        "precision@10",
        "recall@10",
        "ndcg@10",
        "map@10",
        "coverage@10",
        "train_s",
    }
