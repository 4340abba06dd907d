"""model_metrics: every registered model version with its metrics, status and promotion decision."""

from __future__ import annotations

from pydantic import BaseModel

from tools.context import ToolContext
from tools.results import Table


class ModelMetrics(BaseModel):
    """Registered versions side by side; `champions` maps each model to the version it serves."""

    versions: list[dict[str, object]]
    champions: dict[str, str | None]
    table: Table


def model_metrics(ctx: ToolContext, *, model: str | None = None) -> ModelMetrics:
    """List trained model versions (sales_forecast, venue_ranking, recommender, ...) with their
    evaluation metrics (e.g. MAE, RMSE, MAPE, interval coverage), status and why each version was
    promoted or rejected. Pass model to see one model only.
    """
    from models.evaluation import compare_versions  # SciPy: when metrics are asked for
    from models.registry import ModelRegistry

    registry = ModelRegistry(ctx.settings)
    names = [model] if model else registry.models()
    rows = compare_versions(registry, names)
    champions = {}
    for name in names:
        current = registry.current(name)
        champions[name] = current.version if current else None
    metric_names = sorted({m for row in rows for m in row["metrics"]})
    table = Table.from_rows(
        ["model", "version", "status", "trained_at", *metric_names],
        [
            (
                r["model"],
                r["version"],
                r["status"],
                r["trained_at"],
                *(round(r["metrics"][m], 4) if m in r["metrics"] else None for m in metric_names),
            )
            for r in rows
        ],
    )
    return ModelMetrics(versions=rows, champions=champions, table=table)
