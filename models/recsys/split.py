"""The per-user holdout protocol: a fixed share of each eligible user's artists becomes test."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

SEED = 42
TEST_FRACTION_PERCENT = 20
MIN_ITEMS = 5
# the validation split is carved from training data with its own seed, so tuning never
# sees the test holdout and never replays its random draws
VALIDATION_SEED = 7


@dataclass(frozen=True)
class Split:
    """Training matrix, held-out matrix (same shape) and the users evaluated, ascending."""

    train: sp.csr_matrix
    test: sp.csr_matrix
    users: npt.NDArray[np.int64]


def n_held_out(n_items: int, percent: int = TEST_FRACTION_PERCENT) -> int:
    """max(1, floor(percent% of n_items)), in integer arithmetic so 20% of 15 is exactly 3."""
    return max(1, n_items * percent // 100)


def holdout_split(
    matrix: sp.csr_matrix,
    *,
    seed: int = SEED,
    percent: int = TEST_FRACTION_PERCENT,
    min_items: int = MIN_ITEMS,
) -> Split:
    """Hold out `n_held_out` artists of every user with >= `min_items`, drawn by one generator.

    Users are visited in ascending row order and each user's artists in ascending column
    order; one `numpy.random.default_rng(seed)` draws `rng.choice(n, size, replace=False)`
    positions per user in that order. Everything not held out, including all interactions
    of users below `min_items`, stays in training.
    """
    csr = sp.csr_matrix(matrix, copy=True)
    csr.sum_duplicates()
    csr.sort_indices()
    rng = np.random.default_rng(seed)
    counts = np.diff(csr.indptr)
    test_mask = np.zeros(csr.nnz, dtype=bool)
    users = np.flatnonzero(counts >= min_items).astype(np.int64)
    for user in users:
        n = int(counts[user])
        picked = rng.choice(n, size=n_held_out(n, percent), replace=False)
        test_mask[csr.indptr[user] + picked] = True
    rows = np.repeat(np.arange(csr.shape[0]), counts)
    train = _subset(csr, rows, ~test_mask)
    test = _subset(csr, rows, test_mask)
    return Split(train=train, test=test, users=users)


def validation_split(train: sp.csr_matrix, *, seed: int = VALIDATION_SEED) -> Split:
    """The same protocol applied to training data only: what hyper-parameters are chosen on."""
    return holdout_split(train, seed=seed)


def _subset(
    csr: sp.csr_matrix, rows: npt.NDArray[np.int64], keep: npt.NDArray[np.bool_]
) -> sp.csr_matrix:
    out = sp.csr_matrix(
        (csr.data[keep], (rows[keep], csr.indices[keep])), shape=csr.shape, dtype=csr.dtype
    )
    out.sort_indices()
    return out
