"""Training and refresh: read the warehouse, measure on the time-based holdout, fit, register.

`train(settings)` is what `encore train recommender` runs (and what a refresh after new data
runs): it takes seconds at default scale, far inside requirement 3.3's 30 minutes. Serving
loads the registry's champion through `load_model`, training one on demand when none exists.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Final

import pandas as pd

from core.errors import ConfigError
from core.settings import Settings
from models.recommend.data import read_snapshot
from models.recommend.evaluate import TEST_DAYS, evaluate, make_holdout
from models.recommend.hybrid import HybridModel, fit_hybrid
from models.registry import ModelRegistry

logger = logging.getLogger(__name__)

MODEL_NAME: Final = "recommender"
PRIMARY_METRIC: Final = "ndcg@10"
ON_DEMAND_MAX_SALES: Final = 3_000_000
"""Train on first use only below this many ticket sales (≈ 30 s); above it, ask for a train."""

_cache: dict[tuple[str, str], HybridModel] = {}
_lock = threading.Lock()


def train(settings: Settings, *, register: bool = True) -> dict[str, Any]:
    """Fit the hybrid, measure it on a 60-day time-based holdout, register and maybe promote.

    Returns the holdout metrics, `evaluation` (whether the holdout could measure the model and,
    when not, why), timings in seconds (`refresh_s` is the whole refresh), the registered
    version and whether it was promoted (only when not worse than the champion).

    New data can leave the holdout window without a fan to measure (after one sale to a
    first-time buyer, the window holds only that sale). The model is then trained and
    registered all the same, as not evaluated with the reason, and promoted: with no
    measurement there is no evidence that it is worse, and it is the only version that has seen
    the new data (requirement 3.3 wants recommendations refreshed after new data).
    """
    started = time.perf_counter()
    snapshot = read_snapshot(settings)
    read_s = time.perf_counter() - started
    if snapshot.sales.empty:
        raise ConfigError(
            "the warehouse has no ticket sales with a fan id; load sales (or run "
            "`encore generate`) before training the recommender"
        )

    tick = time.perf_counter()
    cutoff = snapshot.as_of - _days(TEST_DAYS)
    holdout_model = fit_hybrid(snapshot, cutoff=cutoff)
    holdout = make_holdout(snapshot, holdout_model)
    metrics = evaluate(holdout_model, holdout)
    evaluate_s = time.perf_counter() - tick
    if holdout.reason is not None:
        logger.info("recommender not evaluated: %s", holdout.reason)

    tick = time.perf_counter()
    model = fit_hybrid(snapshot)
    fit_s = time.perf_counter() - tick

    result: dict[str, Any] = {
        "model": MODEL_NAME,
        "metrics": metrics,
        "evaluation": {
            "available": holdout.reason is None,
            "reason": holdout.reason,
            "eval_fans": len(holdout.fans),
            "candidate_concerts": len(holdout.candidates),
        },
        "params": _params(model),
        "data_snapshot": snapshot.describe(),
        "holdout_cutoff": cutoff.isoformat(),
    }
    tick = time.perf_counter()
    if register:
        result.update(_register(settings, model, result))
    register_s = time.perf_counter() - tick
    result["timings"] = {
        "read_s": round(read_s, 3),
        "evaluate_s": round(evaluate_s, 3),
        "fit_s": round(fit_s, 3),
        "register_s": round(register_s, 3),
        "refresh_s": round(time.perf_counter() - started, 3),
    }
    logger.info("recommender trained in %.1fs: %s", result["timings"]["refresh_s"], metrics)
    return result


def load_model(settings: Settings) -> HybridModel:
    """The champion recommender; trained and registered on first use when that is quick."""
    with _lock:
        version = _champion_version(settings)
        if version is None:
            _require_quick(settings)
            logger.info("no recommender in the registry; training one now")
            train(settings)
            version = _champion_version(settings)
            if version is None:
                raise ConfigError("training the recommender did not produce a champion")
        key = (str(settings.models_dir), version)
        if key not in _cache:
            _cache.clear()  # one model in memory at a time: a new champion replaces the old
            _cache[key] = _load_champion(settings)
        return _cache[key]


def _champion_version(settings: Settings) -> str | None:
    """The champion's version (changes on promotion and rollback); None when there is none."""
    current = ModelRegistry(settings).current(MODEL_NAME)
    return None if current is None else current.version


def _load_champion(settings: Settings) -> HybridModel:
    artifact, _ = ModelRegistry(settings).load(MODEL_NAME)
    if not isinstance(artifact, HybridModel):
        raise ConfigError(f"the registry's {MODEL_NAME!r} artifact is not a recommender model")
    return artifact


def _register(settings: Settings, model: HybridModel, result: dict[str, Any]) -> dict[str, Any]:
    registry = ModelRegistry(settings)
    version = registry.register(
        MODEL_NAME,
        model,
        metrics=result["metrics"],
        params=result["params"],
        data_snapshot=result["data_snapshot"],
        not_evaluated=result["evaluation"]["reason"],
    )
    promoted = registry.promote(
        MODEL_NAME, version.version, primary_metric=PRIMARY_METRIC, higher_is_better=True
    )
    return {"version": version.version, "promoted": promoted}


def _require_quick(settings: Settings) -> None:
    from core.warehouse import reading

    with reading(settings) as con:
        row = con.execute("SELECT count(*) FROM ticket_sales").fetchone()
    sales = int(row[0]) if row else 0
    if sales > ON_DEMAND_MAX_SALES:
        raise ConfigError(
            f"no trained recommender and the warehouse has {sales:,} ticket sales, too many to "
            "train while you wait; run `encore train recommender` first"
        )


def _params(model: HybridModel) -> dict[str, Any]:
    return {
        "cf": model.cf.name,
        "lambda": getattr(model.cf, "lam", None),
        "dropout": getattr(model.cf, "dropout", None),
        "weights": model.weights.as_dict(),
        "half_life_days": 365.0,
        "test_days": TEST_DAYS,
    }


def _days(n: int) -> pd.Timedelta:
    return pd.Timedelta(days=n)
