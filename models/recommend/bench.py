"""`encore bench recommend`: hybrid vs CF-only vs content-only vs popularity on the warehouse.

One time-based holdout (the last 60 days of purchases), one fitted model per CF choice, the
blends as weight settings of the same model, so every row sees the same split and fans. The
variants differ only in how artists are scored (CF, content, popularity); the concert-level
context (reach filter, same-city and known-venue bonuses) applies to all of them alike. The
CF alternative item-kNN is listed as "cf-only (item-kNN)". The refresh time is a full `train`
without registering: read, holdout evaluation and the final fit.
"""

from __future__ import annotations

import time
from typing import Any

from core.errors import ConfigError
from core.settings import Settings
from models.recommend.cf import ItemKNN
from models.recommend.data import read_snapshot
from models.recommend.evaluate import TEST_DAYS, evaluate, make_holdout
from models.recommend.hybrid import VARIANTS, fit_hybrid
from models.recommend.refresh import train


def bench_recommend(settings: Settings, *, test_days: int = TEST_DAYS) -> dict[str, Any]:
    """Metrics@10 of each variant on concerts and on new artists, plus the refresh time."""
    import pandas as pd

    snapshot = read_snapshot(settings)
    cutoff = snapshot.as_of - pd.Timedelta(days=test_days)
    tick = time.perf_counter()
    model = fit_hybrid(snapshot, cutoff=cutoff)
    fit_s = time.perf_counter() - tick
    holdout = make_holdout(snapshot, model, test_days=test_days)
    if holdout.reason is not None:
        raise ConfigError(
            f"nothing to compare the recommenders on: {holdout.reason}; load more sales (or "
            "run `encore generate`) and run the benchmark again",
            cutoff=cutoff.isoformat(),
        )
    rows = []
    for name, weights in VARIANTS.items():
        tick = time.perf_counter()
        metrics = evaluate(model, holdout, weights)
        rows.append(
            {"name": name, **metrics, "train_s": fit_s, "eval_s": time.perf_counter() - tick}
        )
    tick = time.perf_counter()
    knn = fit_hybrid(snapshot, cutoff=cutoff, cf=ItemKNN())
    knn_s = time.perf_counter() - tick
    rows.append(
        {
            "name": "cf-only (item-kNN)",
            **evaluate(knn, holdout, VARIANTS["cf-only"]),
            "train_s": knn_s,
        }
    )
    refresh = train(settings, register=False)
    return {
        "models": rows,
        "holdout": {
            "cutoff": cutoff.isoformat(),
            "test_days": test_days,
            "eval_fans": len(holdout.fans),
            "candidate_concerts": len(holdout.candidates),
        },
        "data_snapshot": snapshot.describe(),
        "refresh_s": refresh["timings"]["refresh_s"],
        "refresh_timings": refresh["timings"],
    }
