"""Training and refresh: read the warehouse, measure on the time-based holdout, fit, register.

`train(settings)` is what `encore train recommender` runs (and what a refresh after new data
runs): it takes seconds at default scale, far inside requirement 3.3's 30 minutes. Serving
loads the registry's champion through `load_model`, training one on demand when none exists.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from typing import Any, Final

import pandas as pd

from core.errors import ConfigError
from core.settings import Settings
from models.recommend.data import Snapshot, read_snapshot
from models.recommend.evaluate import TEST_DAYS, Holdout, evaluate, make_holdout
from models.recommend.hybrid import HybridModel, fit_hybrid
from models.registry import ModelRegistry, ModelVersion

logger = logging.getLogger(__name__)

MODEL_NAME: Final = "recommender"
PRIMARY_METRIC: Final = "ndcg@10"
MIN_EVAL_FANS: Final = 20
"""The fewest evaluated fans whose mean ndcg@10 the champion gate may judge a version by.

A fan's ndcg@10 is 0 or, for a hit, roughly 0.3-1: with n fans one fan moves the mean by up to
1/n, so below 20 fans one purchase decides the verdict (after new data the 60-day window can
hold the new sales of one fan only: ndcg@10 0, and every refresh was rejected). The small demo
warehouse's own window holds far more fans than this."""
TIE_TOLERANCE: Final = 1e-3
"""An ndcg@10 this much below the champion's counts as equal: measured on the champion's holdout,
the same code on the same purchases differs only by the new entities' rows (float noise)."""
ON_DEMAND_MAX_SALES: Final = 3_000_000
"""Train on first use only below this many ticket sales (≈ 30 s); above it, ask for a train."""

_cache: dict[tuple[str, str], HybridModel] = {}
_lock = threading.Lock()


def train(settings: Settings, *, register: bool = True) -> dict[str, Any]:
    """Fit the hybrid, measure it on a 60-day time-based holdout, register and maybe promote.

    Returns the holdout metrics, `evaluation` (whether the holdout could measure the model and,
    when not, why), timings in seconds (`refresh_s` is the whole refresh), the registered
    version and whether it was promoted (only when not worse than the champion).

    New data can leave the holdout window with too few fans to judge (after a few sales, the
    window holds only them): the version is then measured on the champion's holdout, or, when
    that cannot be rebuilt either, registered as not evaluated with the reason and promoted (see
    `_measure`); requirement 3.3 wants recommendations refreshed after new data. `summary`
    says whether the served model changed.
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
    registry = ModelRegistry(settings) if register else None
    champion = None if registry is None else registry.current(MODEL_NAME)
    cutoff, holdout, metrics, window, gate = _measure(snapshot, champion)
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
            "window": window,
        },
        "params": {**_params(model), "holdout_end": window["end"]},
        "data_snapshot": snapshot.describe(),
        "holdout_cutoff": cutoff.isoformat(),
    }
    tick = time.perf_counter()
    if register:
        result.update(_register(settings, model, result, gate))
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


def _register(
    settings: Settings,
    model: HybridModel,
    result: dict[str, Any],
    gate: dict[str, float] | None,
) -> dict[str, Any]:
    """Register the version and let the champion gate decide; `served_changed` and `summary`
    say whether the served model changed (the scheduler reports them, not just "refreshed")."""
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
        MODEL_NAME,
        version.version,
        primary_metric=PRIMARY_METRIC,
        higher_is_better=True,
        tolerance=TIE_TOLERANCE,
        compared=gate,
    )
    decision = _meta(registry, version.version).decision or ""
    if promoted:
        summary = f"refreshed: {version.version} now serves"
    else:
        summary = f"trained {version.version}, {decision}"
    return {
        "version": version.version,
        "promoted": promoted,
        "served_changed": promoted,
        "decision": decision,
        "summary": summary,
    }


def _meta(registry: ModelRegistry, version: str) -> ModelVersion:
    return next(v for v in registry.versions(MODEL_NAME) if v.version == version)


def _measure(
    snapshot: Snapshot, champion: ModelVersion | None
) -> tuple[pd.Timestamp, Holdout, dict[str, float], dict[str, Any], dict[str, float] | None]:
    """The holdout a version is measured on, its metrics there, and its metrics on the
    champion's holdout when that is another window (None: compare the metrics themselves).

    The newest `TEST_DAYS` days when they hold at least `MIN_EVAL_FANS` fans; the champion gate
    then compares the candidate's figure on the champion's own holdout (the same 60 days ending
    where the champion's ended, fitted on the purchases before them) with the champion's: two
    windows hold other fans, and their figures differ by more than models do. When the newest
    window holds too few fans (new data after a quiet spell: only the new sales), the version is
    measured on the champion's holdout alone. When neither holds enough fans, it is registered
    as not evaluated with the reason (a one-fan figure would decide the gate by chance), and
    promoted: nothing shows it is worse.
    """
    cutoff = snapshot.as_of - _days(TEST_DAYS)
    model = fit_hybrid(snapshot, cutoff=cutoff)
    holdout = make_holdout(snapshot, model)
    own = len(holdout.fans)
    past = _champion_holdout(snapshot, champion)
    if own >= MIN_EVAL_FANS:
        window: dict[str, Any] = {"holdout": "newest", "end": snapshot.as_of.isoformat()}
        gate = None if past is None else past[2]
        if past is not None and champion is not None:
            window["compared_on"] = f"{champion.version}'s holdout"
        return cutoff, holdout, evaluate(model, holdout), window, gate
    if past is not None and champion is not None:
        past_cutoff, past_holdout, metrics, end = past
        window = {
            "holdout": f"{champion.version}'s",
            "end": end.isoformat(),
            "why": f"the newest {TEST_DAYS} days hold {own} evaluable fan(s), fewer than "
            f"{MIN_EVAL_FANS}",
        }
        return past_cutoff, past_holdout, metrics, window, None
    reason = holdout.reason or (
        f"the {TEST_DAYS}-day holdout holds {own} evaluable fan(s), fewer than the "
        f"{MIN_EVAL_FANS} needed to judge a model, and the champion's holdout cannot be rebuilt"
    )
    window = {"holdout": "none", "end": snapshot.as_of.isoformat()}
    unmeasured = dataclasses.replace(holdout, reason=reason)
    return cutoff, unmeasured, {"eval_fans": float(own)}, window, None


def _champion_holdout(
    snapshot: Snapshot, champion: ModelVersion | None
) -> tuple[pd.Timestamp, Holdout, dict[str, float], pd.Timestamp] | None:
    """The candidate measured on the champion's holdout (cutoff, holdout, metrics, end); None
    when that is the newest window itself, cannot be rebuilt, or holds too few fans."""
    end = _holdout_end(champion)
    if end is None or end >= snapshot.as_of:
        return None
    past = dataclasses.replace(snapshot, sales=snapshot.sales[snapshot.sales["sold_at"] <= end])
    if past.sales.empty:
        return None
    cutoff = past.as_of - _days(TEST_DAYS)
    model = fit_hybrid(past, cutoff=cutoff)
    holdout = make_holdout(past, model)
    if len(holdout.fans) < MIN_EVAL_FANS:
        return None
    return cutoff, holdout, evaluate(model, holdout), past.as_of


def _holdout_end(champion: ModelVersion | None) -> pd.Timestamp | None:
    """Where the champion's holdout ended: recorded since versions may be measured on an older
    champion's window, else its latest sale (the end of its own window)."""
    if champion is None or champion.params.get("test_days", TEST_DAYS) != TEST_DAYS:
        return None
    end = champion.params.get("holdout_end") or champion.data_snapshot.get("latest_sale")
    return None if end is None else pd.Timestamp(end)


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
