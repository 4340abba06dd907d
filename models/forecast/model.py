"""The ticket-sales regressor: gradient boosting on sell-through, conformal intervals, confidence.

What the numbers mean (requirement 3.5):

- **tickets_sold** = predicted sell-through × venue capacity. The regressor predicts sell-through
  (bounded 0–1, comparable across venue sizes); a second regressor predicts the average ticket
  price, and gross = tickets × that price.
- **interval** (`tickets_low`..`tickets_high`): a split-conformal interval with nominal coverage
  `INTERVAL_LEVEL` (80%). Scores are residuals normalised by a difficulty model (absolute error
  predicted from the features, fitted on out-of-fold residuals of the training window), and the
  conformal quantile is taken on a calibration window that lies *after* the training window in time.
- **confidence**: the calibrated probability that the actual tickets sold land within
  ±`TOLERANCE` (20%) of the predicted tickets. It is an isotonic map from the relative difficulty
  to the hit rate observed on the calibration window, so among predictions with confidence ≥ 0.70
  at least ~70% land within ±20% (checked on a later holdout in tests and `encore bench forecast`).
  `low_confidence` = confidence < 0.70.
- **cold_start**: the artist or the venue has no completed concert before the prediction date;
  the model then leans on genre, popularity, capacity and venue-type priors. The difficulty model
  sees the history counts, but the calibration window holds few such forecasts, so a cold start's
  confidence is also capped at the hit rate cold starts had there (`cold_start_hit_rate`; with
  fewer than `_MIN_COLD_STARTS` of them, the lowest of that rate and the window's overall rate).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Final

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.isotonic import IsotonicRegression
from sklearn.model_selection import KFold, cross_val_predict
from threadpoolctl import ThreadpoolController

from models.features import CATEGORICAL, FEATURES
from models.forecast import INTERVAL_LEVEL, LOW_CONFIDENCE, SELL_OUT_AT, TOLERANCE

_DIFFICULTY_FLOOR: Final = 0.01


@cache
def _threadpools() -> ThreadpoolController:
    """The native thread pools, found once: `threadpool_limits()` scans the loaded libraries on
    every call, which costs more than predicting one row."""
    return ThreadpoolController()


def _regressor(
    seed: int, categorical: np.ndarray, *, loss: str = "squared_error", iters: int = 200
) -> HistGradientBoostingRegressor:
    """A regressor of the model matrix; `categorical` marks its category-code columns."""
    return HistGradientBoostingRegressor(
        loss=loss,
        learning_rate=0.06,
        max_iter=iters,
        max_leaf_nodes=31,
        min_samples_leaf=20,
        l2_regularization=1.0,
        categorical_features=categorical,
        random_state=seed,
    )


_MIN_COLD_STARTS = 30
"""Cold starts in the calibration window needed to take their own hit rate as the cap."""


def _cold_start(features: pd.DataFrame) -> np.ndarray:
    """Rows whose artist or venue has no completed concert before the row's date."""
    return np.asarray((features["a_n"].to_numpy() == 0) | (features["v_n"].to_numpy() == 0))


@dataclass
class SalesForecaster:
    """A fitted forecaster: the artifact stored in the registry as `sales_forecast`."""

    seed: int = 42
    features: tuple[str, ...] = FEATURES
    sell_through: HistGradientBoostingRegressor | None = None
    price: HistGradientBoostingRegressor | None = None
    difficulty: HistGradientBoostingRegressor | None = None
    confidence_map: IsotonicRegression | None = None
    conformal_q: float = float("nan")
    params: dict[str, float] = field(default_factory=dict)
    categories: dict[str, tuple[str, ...]] | None = None
    """Each categorical feature's categories, its codes' order. None: a forecaster fitted before
    the model matrix existed, whose regressors take the feature frame and encode it each."""
    cold_start_hit_rate: float | None = None
    """The most confidence a cold start gets (see the module); None: fitted before the cap."""

    def fit(self, train: pd.DataFrame, calibration: pd.DataFrame) -> SalesForecaster:
        """Fit on `train` (features + labels) and calibrate on the later `calibration` window."""
        # OpenMP threads make these small fits 10x slower on shared 2-core machines; one thread
        # also adds the boosting's gradient sums in one order on any machine, so a refit on the
        # same data is the same model (each fit's randomness comes from `seed`)
        with _threadpools().limit(limits=1):
            return self._fit(train, calibration)

    def _fit(self, train: pd.DataFrame, calibration: pd.DataFrame) -> SalesForecaster:
        # the categories a regressor would find in the frame (OrdinalEncoder's sorted uniques)
        self.categories = {
            name: tuple(sorted(str(v) for v in train[name].dropna().unique()))
            for name in self.features
            if name in CATEGORICAL
        }
        x, y = self._matrix(train), train["sell_through"].clip(0, 1).to_numpy()
        categorical = np.array([name in self.categories for name in self.features])
        self.sell_through = _regressor(self.seed, categorical).fit(x, y)
        has_price = train["avg_ticket_price"].notna().to_numpy()
        self.price = _regressor(self.seed, categorical, iters=100).fit(
            x[has_price], train.loc[has_price, "avg_ticket_price"].to_numpy()
        )
        # out-of-fold residuals teach the difficulty model how wrong the regressor tends to be
        oof = cross_val_predict(
            _regressor(self.seed, categorical, iters=100),
            x,
            y,
            cv=KFold(3, shuffle=True, random_state=self.seed),
        )
        self.difficulty = _regressor(
            self.seed, np.append(categorical, False), loss="absolute_error", iters=100
        ).fit(self._difficulty_x(x, oof), np.abs(y - oof))
        self._calibrate(calibration)
        self.params = {
            "tolerance": TOLERANCE,
            "interval_level": INTERVAL_LEVEL,
            "conformal_q": self.conformal_q,
            "train_rows": float(len(train)),
            "calibration_rows": float(len(calibration)),
        }
        return self

    def _matrix(self, features: pd.DataFrame) -> np.ndarray:
        """The regressors' input, built once per call: float64 columns in `features` order,
        categories as codes (NaN when missing or unseen, as the regressors' own encoder did)."""
        assert self.categories is not None
        out = np.empty((len(features), len(self.features)), dtype=np.float64)
        for i, name in enumerate(self.features):
            column = features[name]
            if name in self.categories:
                codes = pd.Index(self.categories[name]).get_indexer(pd.Index(column.astype(object)))
                out[:, i] = np.where(codes < 0, np.nan, codes)
            else:
                out[:, i] = column.to_numpy(dtype=np.float64)
        return out

    def _inputs(self, features: pd.DataFrame) -> np.ndarray | pd.DataFrame:
        """What the regressors take: the model matrix, or the frame for an older forecaster."""
        if self.categories is None:
            return features[list(self.features)]
        return self._matrix(features)

    @staticmethod
    def _difficulty_x(
        x: np.ndarray | pd.DataFrame, st_hat: np.ndarray
    ) -> np.ndarray | pd.DataFrame:
        if isinstance(x, np.ndarray):
            return np.column_stack([x, st_hat])
        out = x.copy()
        out["st_hat"] = st_hat
        return out

    def _raw(self, x: np.ndarray | pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        assert self.sell_through is not None and self.difficulty is not None
        st_hat = np.clip(self.sell_through.predict(x), 0.0, 1.0)
        spread = np.maximum(
            self.difficulty.predict(self._difficulty_x(x, st_hat)), _DIFFICULTY_FLOOR
        )
        return st_hat, spread

    def _calibrate(self, calibration: pd.DataFrame) -> None:
        x = self._inputs(calibration)
        y = calibration["sell_through"].clip(0, 1).to_numpy()
        st_hat, spread = self._raw(x)
        scores = np.abs(y - st_hat) / spread
        n = len(scores)
        level = min(1.0, np.ceil((n + 1) * INTERVAL_LEVEL) / n)
        self.conformal_q = float(np.quantile(scores, level, method="higher"))
        hit = (np.abs(y - st_hat) <= TOLERANCE * np.maximum(st_hat, 1e-6)).astype(float)
        self.confidence_map = IsotonicRegression(
            increasing=False, y_min=0.0, y_max=1.0, out_of_bounds="clip"
        ).fit(self._relative_spread(st_hat, spread), hit)
        cold = _cold_start(calibration)
        overall = float(hit.mean()) if n else 0.0
        if cold.sum() >= _MIN_COLD_STARTS:
            self.cold_start_hit_rate = float(hit[cold].mean())
        else:  # too few to measure: no more than the window's rate, nor the few seen
            self.cold_start_hit_rate = min(overall, float(hit[cold].mean()) if cold.any() else 1)

    @staticmethod
    def _relative_spread(st_hat: np.ndarray, spread: np.ndarray) -> np.ndarray:
        return np.asarray(spread / np.maximum(st_hat, 0.05), dtype=float)

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """Predictions for feature rows (index kept): tickets, interval, gross, confidence."""
        with _threadpools().limit(limits=1):
            return self._predict(features)

    def _predict(self, features: pd.DataFrame) -> pd.DataFrame:
        assert self.price is not None and self.confidence_map is not None
        x = self._inputs(features)
        st_hat, spread = self._raw(x)
        capacity = features["capacity"].to_numpy(dtype=float)
        half = self.conformal_q * spread
        low_st, high_st = np.clip(st_hat - half, 0, 1), np.clip(st_hat + half, 0, 1)
        price = np.maximum(self.price.predict(x), 0.0)
        confidence = self.confidence_map.predict(self._relative_spread(st_hat, spread))
        no_artist, no_venue = features["a_n"].to_numpy() == 0, features["v_n"].to_numpy() == 0
        if self.cold_start_hit_rate is not None:
            cap = self.cold_start_hit_rate
            confidence = np.where(no_artist | no_venue, np.minimum(confidence, cap), confidence)
        out = pd.DataFrame(index=features.index)
        out["sell_through"] = st_hat
        out["tickets_sold"] = np.round(st_hat * capacity)
        out["tickets_low"] = np.floor(low_st * capacity)
        out["tickets_high"] = np.ceil(high_st * capacity)
        out["avg_price"] = price
        out["gross"] = out["tickets_sold"] * price
        out["gross_low"] = out["tickets_low"] * price
        out["gross_high"] = out["tickets_high"] * price
        out["confidence"] = np.clip(confidence, 0.0, 1.0)
        out["low_confidence"] = out["confidence"] < LOW_CONFIDENCE
        out["likely_sell_out"] = st_hat >= SELL_OUT_AT
        out["cold_start"] = no_artist | no_venue
        out["new_artist"], out["new_venue"] = no_artist, no_venue
        return out
