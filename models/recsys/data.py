"""Load HetRec 2011 Last.fm user–artist play counts into a sparse user × artist matrix."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from core.errors import SourceError

logger = logging.getLogger(__name__)

DATASET_DIR = "hetrec2011-lastfm-2k"
USER_ARTISTS = "user_artists.dat"


@dataclass(frozen=True)
class Interactions:
    """Play counts as CSR; row `u` is user `user_ids[u]`, column `i` is artist `artist_ids[i]`.

    Rows and columns are in ascending id order, so row order is the protocol's user order and
    each row's column indices are the user's artists sorted by id.
    """

    matrix: sp.csr_matrix
    user_ids: npt.NDArray[np.int64]
    artist_ids: npt.NDArray[np.int64]

    @property
    def n_users(self) -> int:
        """Number of users (rows)."""
        return int(self.matrix.shape[0])

    @property
    def n_items(self) -> int:
        """Number of artists (columns): the catalogue that coverage is measured against."""
        return int(self.matrix.shape[1])


def resolve_data_dir(data_dir: Path) -> Path:
    """The folder holding `user_artists.dat`: `data_dir` itself or its HetRec subfolder."""
    for candidate in (data_dir, data_dir / DATASET_DIR):
        if (candidate / USER_ARTISTS).is_file():
            return candidate
    raise SourceError(
        f"{USER_ARTISTS} not found in {data_dir} or {data_dir / DATASET_DIR}; "
        "pass the hetrec2011-lastfm-2k folder (or its parent) as the data directory",
        data_dir=str(data_dir),
    )


def from_frame(frame: pd.DataFrame) -> Interactions:
    """Build `Interactions` from columns userID, artistID, weight (duplicate pairs are summed)."""
    missing = {"userID", "artistID", "weight"} - set(frame.columns)
    if missing:
        raise SourceError(
            f"user–artist table lacks columns {sorted(missing)}; expected userID, artistID, weight",
            columns=list(frame.columns),
        )
    user_ids, rows = np.unique(frame["userID"].to_numpy(np.int64), return_inverse=True)
    artist_ids, cols = np.unique(frame["artistID"].to_numpy(np.int64), return_inverse=True)
    weights = frame["weight"].to_numpy(np.float64)
    if (weights <= 0).any():
        raise SourceError(
            "play counts must be positive; a zero would vanish from the sparse matrix",
            n_bad=int((weights <= 0).sum()),
        )
    matrix = sp.csr_matrix(
        (weights, (rows, cols)), shape=(len(user_ids), len(artist_ids)), dtype=np.float64
    )
    # canonical form: sorted column indices per row, duplicates summed
    matrix.sum_duplicates()
    matrix.sort_indices()
    return Interactions(matrix=matrix, user_ids=user_ids, artist_ids=artist_ids)


def load_user_artists(data_dir: Path) -> Interactions:
    """Read `user_artists.dat` (tab-separated, header row) from `data_dir` or its subfolder."""
    path = resolve_data_dir(data_dir) / USER_ARTISTS
    try:
        frame = pd.read_csv(
            path, sep="\t", dtype={"userID": np.int64, "artistID": np.int64, "weight": np.int64}
        )
    except (OSError, ValueError) as exc:
        raise SourceError(f"could not read {path}: {exc}", path=str(path)) from exc
    data = from_frame(frame)
    logger.info(
        "loaded %d plays: %d users × %d artists from %s",
        data.matrix.nnz,
        data.n_users,
        data.n_items,
        path,
    )
    return data
