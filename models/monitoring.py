"""Model monitoring: drift of features and predictions, predictions against actuals, alerts.

- Drift compares the features (and the forecaster's predictions) of the newest completed concerts
  the model learned from with those of the scheduled concerts it is asked about now: PSI per
  feature (> 0.25 is a large shift by the usual rule of thumb) and the two-sample KS statistic.
- Every prediction made for a concert id is appended to `<models_dir>/monitoring/predictions.jsonl`
  with its timestamp and model version (a file, not a warehouse table: appends need no writer
  lock on the warehouse). `track_actuals` joins the log with concerts that have since completed.
- Degradation (errors well above the model's holdout figures, or drift) raises an alert in the
  warehouse's `alerts` table through `pipelines.monitoring.local.LocalMonitor`, the same shape the
  pipelines use, with source `model:<name>`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from core.settings import Settings
from core.warehouse import reading, writing
from models.features import NUMERIC, concert_features, concert_targets, training_targets
from models.registry import ModelRegistry
from pipelines.monitoring.local import LocalMonitor

PSI_ALERT: Final = 0.25
MAPE_DEGRADATION: Final = 1.5
"""Alert when live MAPE exceeds the holdout MAPE by this factor."""
MIN_TRACKED: Final = 20
_EPS: Final = 1e-4


def psi(
    expected: npt.ArrayLike,
    actual: npt.ArrayLike,
    bins: int = 10,
) -> float:
    """Population stability index of `actual` against `expected` (quantile bins of expected)."""
    e, a = _without_nan(expected), _without_nan(actual)
    if e.size == 0 or a.size == 0:
        return float("nan")
    edges = np.unique(np.quantile(e, np.linspace(0, 1, bins + 1)))
    if edges.size < 2:
        return 0.0 if np.allclose(a, e[0]) else float("inf")
    e_share, a_share = _bin_shares(e, edges), _bin_shares(a, edges)
    return float(np.sum((a_share - e_share) * np.log(a_share / e_share)))


def ks(expected: npt.ArrayLike, actual: npt.ArrayLike) -> tuple[float, float]:
    """Two-sample Kolmogorov–Smirnov statistic and p-value (NaNs dropped)."""
    e, a = _without_nan(expected), _without_nan(actual)
    if e.size == 0 or a.size == 0:
        return float("nan"), float("nan")
    result = stats.ks_2samp(e, a)
    return float(result.statistic), float(result.pvalue)


def _without_nan(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64)
    kept: npt.NDArray[np.float64] = array[~np.isnan(array)]
    return kept


def _bin_shares(
    values: npt.NDArray[np.float64], edges: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """The share of values in each bin between edges, floored at _EPS so logs stay finite."""
    bins = np.searchsorted(edges[1:-1], values, side="right")
    shares: npt.NDArray[np.float64] = np.bincount(bins, minlength=edges.size - 1) / values.size
    return np.maximum(shares, _EPS)


def _log_path(settings: Settings) -> Path:
    return settings.models_dir / "monitoring" / "predictions.jsonl"


def record_predictions(
    settings: Settings, predictions: pd.DataFrame, *, model: str, version: str
) -> int:
    """Append predictions indexed by concert id to the prediction log; returns rows written."""
    path = _log_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC).isoformat()
    lines = [
        json.dumps(
            {
                "predicted_at": now,
                "model": model,
                "version": version,
                "concert_id": str(cid),
                "tickets_sold": float(row["tickets_sold"]),
                "tickets_low": float(row["tickets_low"]),
                "tickets_high": float(row["tickets_high"]),
                "confidence": float(row["confidence"]),
            }
        )
        for cid, row in predictions.iterrows()
    ]
    # one write in append mode: concurrent writers interleave whole batches, not half lines
    with path.open("a", encoding="utf-8") as handle:
        handle.write("".join(line + "\n" for line in lines))
    return len(lines)


def _alert(settings: Settings, source: str, message: str, details: dict[str, Any]) -> str:
    with writing(settings) as con:
        return LocalMonitor(con).alert("warning", source, message, details=details)


def track_actuals(
    settings: Settings, *, model: str = "sales_forecast", alert: bool = True
) -> dict[str, Any]:
    """Compare logged predictions with actual tickets of concerts that have completed since."""
    path = _log_path(settings)
    if not path.exists():
        return {"tracked": 0, "message": "no predictions logged yet"}
    log = pd.read_json(path, lines=True, dtype={"concert_id": str})
    log = (
        log[log["model"] == model]
        .sort_values("predicted_at")
        .drop_duplicates("concert_id", keep="last")
    )
    with reading(settings) as con:
        con.register("logged", log[["concert_id"]])
        actual = con.execute(
            "SELECT concert_id, tickets_sold::DOUBLE AS actual FROM concert_performance "
            "JOIN logged USING (concert_id) WHERE status = 'completed' AND results_source <> 'none'"
        ).df()
    joined = log.merge(actual, on="concert_id")
    report: dict[str, Any] = {"logged": len(log), "tracked": len(joined)}
    if joined.empty:
        report["message"] = "no logged concert has completed yet"
        return report
    err = np.abs(joined["tickets_sold"] - joined["actual"])
    report["mae"] = float(err.mean())
    report["mape"] = float((err / np.maximum(joined["actual"], 1)).mean())
    report["coverage"] = float(
        (
            (joined["actual"] >= joined["tickets_low"])
            & (joined["actual"] <= joined["tickets_high"])
        ).mean()
    )
    champion = ModelRegistry(settings).current(model)
    baseline = champion.metrics.get("mape") if champion else None
    if baseline is not None and np.isnan(baseline):
        baseline = None  # a version registered before unmeasured metrics were left out
    report["holdout_mape"] = baseline
    if champion is not None and baseline is None:
        report["baseline"] = f"no holdout MAPE to compare with: {champion.version} " + (
            f"was not evaluated ({champion.not_evaluated})"
            if champion.not_evaluated
            else "has none"
        )
    degraded = (
        baseline is not None
        and len(joined) >= MIN_TRACKED
        and report["mape"] > MAPE_DEGRADATION * baseline
    )
    report["degraded"] = bool(degraded)
    if degraded and alert:
        report["alert_id"] = _alert(
            settings,
            f"model:{model}",
            f"{model} live MAPE {report['mape']:.2f} is over {MAPE_DEGRADATION}x its holdout "
            f"MAPE {baseline:.2f} on {len(joined)} completed concerts; "
            f"retrain with `encore train {model}`",
            report,
        )
    return report


def drift_report(settings: Settings, *, alert: bool = True) -> dict[str, Any]:
    """PSI and KS of each numeric feature and of predicted sell-through: recent past vs upcoming."""
    from models.forecast.predict import reference_date
    from models.forecast.train import load_or_train

    forecaster, meta = load_or_train(settings)
    with reading(settings) as con:
        history = training_targets(con)
        reference = history.iloc[-max(len(history) // 5, 1) :]
        ref_features = concert_features(con, reference)
        scheduled = [
            r[0]
            for r in con.execute(
                "SELECT concert_id FROM concerts WHERE status = 'scheduled'"
            ).fetchall()
        ]
        current_targets = concert_targets(con, scheduled, reference_date(con))
        cur_features = concert_features(con, current_targets)
    if cur_features.empty:
        return {"features": [], "prediction": None, "message": "no scheduled concerts to compare"}
    rows: list[dict[str, Any]] = []
    for name in NUMERIC:
        statistic, pvalue = ks(ref_features[name], cur_features[name])
        rows.append(
            {
                "feature": name,
                "psi": psi(ref_features[name], cur_features[name]),
                "ks": statistic,
                "ks_p": pvalue,
            }
        )
    ref_pred = forecaster.predict(ref_features)["sell_through"]
    cur_pred = forecaster.predict(cur_features)["sell_through"]
    statistic, pvalue = ks(ref_pred, cur_pred)
    prediction = {"psi": psi(ref_pred, cur_pred), "ks": statistic, "ks_p": pvalue}
    drifted = [r["feature"] for r in rows if r["psi"] > PSI_ALERT]
    report: dict[str, Any] = {
        "model_version": meta.version,
        "reference_rows": len(ref_features),
        "current_rows": len(cur_features),
        "features": rows,
        "prediction": prediction,
        "drifted_features": drifted,
        "verdict": _verdict(rows, prediction, drifted, alerting=alert),
    }
    if alert and prediction["psi"] > PSI_ALERT:
        report["alert_id"] = _alert(
            settings,
            "model:sales_forecast",
            f"predicted sell-through drifted (PSI {prediction['psi']:.2f} > {PSI_ALERT}); "
            f"drifted features: {', '.join(drifted) or 'none'}",
            {"prediction": prediction, "drifted_features": drifted},
        )
    return report


def _verdict(
    rows: list[dict[str, Any]], prediction: dict[str, float], drifted: list[str], *, alerting: bool
) -> str:
    """What the figures mean, in a sentence: an alert follows the predictions' drift; inputs
    that drifted while the predictions did not are named as something to watch."""
    if prediction["psi"] > PSI_ALERT:
        head = (
            f"the predictions drifted (sell-through PSI {prediction['psi']:.2f} > {PSI_ALERT}): "
            f"{'alert raised' if alerting else 'an alert (not written)'}; retrain or check the "
            "inputs below"
        )
    else:
        head = (
            f"the predictions are stable (sell-through PSI {prediction['psi']:.2f} <= "
            f"{PSI_ALERT}): no alert"
        )
    if not drifted:
        return f"{head}; no input past PSI {PSI_ALERT}"
    worst = sorted((r for r in rows if r["feature"] in drifted), key=lambda r: -r["psi"])[:3]
    named = ", ".join(f"{r['feature']} {r['psi']:.2f}" for r in worst)
    return (
        f"{head}; {len(drifted)} of {len(rows)} inputs past PSI {PSI_ALERT} (largest: {named}): "
        "upcoming concerts differ from the recent past there, to watch"
    )
