"""Model commands: `encore train | evaluate | predict | drift` (`app`) and `encore bench recsys |
forecast` (`bench_app`)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Final

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from core.settings import Settings

bench_app = typer.Typer()
app = typer.Typer(help="train, evaluate and query the models")
console = Console()

_DEFAULT_DATA = Path("../shared/data/hetrec2011-lastfm-2k")
_METRICS = ("precision@10", "recall@10", "ndcg@10", "map@10", "coverage@10", "train_s")


@bench_app.command("recsys")
def bench_recsys_command(
    data: Annotated[
        Path, typer.Option(help="the hetrec2011-lastfm-2k folder (user_artists.dat)")
    ] = _DEFAULT_DATA,
    als: Annotated[bool, typer.Option(help="include implicit's ALS (needs encore[bench])")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Hold out 20% of each user's artists; P/R/NDCG/MAP/coverage@10 of every model, one run."""
    from models.recsys.bench import bench_recsys

    if not data.exists():
        raise typer.BadParameter(
            f"no listening data at {data}; pass --data DIR", param_hint="--data"
        )
    with console.status("training and evaluating the recommenders ..."):
        result = bench_recsys(data, include_als=als)
    if as_json:
        typer.echo(json.dumps(result))
        return
    table = Table("model", *_METRICS, title="recommenders on hetrec2011-lastfm-2k")
    for model in result["models"]:
        table.add_row(model["name"], *(f"{model[m]:.4f}" for m in _METRICS))
    console.print(table)


def _settings() -> Settings:
    return Settings()


@bench_app.command("forecast")
def bench_forecast_command(
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Ticket-sales model vs baselines on the newest 20% of concerts: MAE/RMSE/MAPE/coverage."""
    from models.forecast.bench import bench_forecast

    with console.status("training and scoring the forecaster on a time holdout ..."):
        result = bench_forecast(_settings())
    if as_json:
        typer.echo(json.dumps(result, default=str))
        return
    _print_holdout(result)


def _print_holdout(result: dict[str, Any]) -> None:
    rows = result["rows"]
    table = Table(
        "model",
        "MAE",
        "RMSE",
        "MAPE",
        "coverage",
        title=f"ticket sales, test window {result['test_window'][0]}..{result['test_window'][1]} "
        f"(train {rows['train']}, calibration {rows['calibration']}, test {rows['test']})",
    )
    for name, m in result["metrics"].items():
        coverage = f"{m['coverage']:.3f}" if "coverage" in m else "-"
        table.add_row(name, f"{m['mae']:.1f}", f"{m['rmse']:.1f}", f"{m['mape']:.3f}", coverage)
    console.print(table)
    cal = result["calibration"]
    console.print(
        f"confidence >= 0.70 on {cal['share_confident']:.0%} of predictions; of those "
        f"{_share(cal['hit_rate_confident'])} landed within ±20% (others: "
        f"{_share(cal['hit_rate_low_confidence'])})"
    )
    if "latency" in result:
        lat = result["latency"]
        console.print(
            f"one prediction: p50 {lat['p50_ms']:.0f} ms, {lat['ratio_to_every_group']:.2f}x the "
            "same with every artist's, venue's and genre's totals "
            f"({lat['every_group_p50_ms']:.0f} ms)"
        )


def _share(value: float) -> str:
    """A rate as a percentage; "n/a" when nothing was counted (NaN), never "nan%"."""
    return "n/a" if math.isnan(value) else f"{value:.1%}"


_MAX_METRIC_COLUMNS = 8
"""More metrics than this per table do not fit a terminal; `--json` has them all."""
MODELS: Final = ("venue_ranking", "sales_forecast", "recommender")
"""Every model `encore train all` trains, in order."""


@app.command("train")
def train_command(
    model: Annotated[
        str, typer.Argument(help="venue_ranking | sales_forecast | recommender | all")
    ] = "all",
    as_json: Annotated[bool, typer.Option("--json", help="print the results as JSON")] = False,
) -> None:
    """Train a model (or all), register the new version, promote it when it is not worse."""
    if model not in (*MODELS, "all"):
        raise typer.BadParameter(f"choose one of {', '.join(MODELS)}, all", param_hint="MODEL")
    settings = _settings()
    names = [m for m in MODELS if model in (m, "all")]
    results: dict[str, Any] = {}
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("training", total=len(names))
        for name in names:
            progress.update(task, description=f"training {name}")

            def note(message: str, model_name: str = name) -> None:
                progress.update(task, description=f"{model_name}: {message}")

            results[name] = _train_one(name, settings, note)
            progress.advance(task)
    if as_json:
        typer.echo(json.dumps(results, default=str))
        return
    for name, result in results.items():
        if name == "sales_forecast":
            _print_holdout(result)
        console.print(f"[bold]{name}[/bold]: " + _summary(result))
        evaluation = result.get("evaluation")
        if isinstance(evaluation, dict) and not evaluation.get("available", True):
            console.print(f"  [yellow]evaluation: not available[/yellow] ({evaluation['reason']})")


def _train_one(name: str, settings: Settings, note: Callable[[str], None]) -> dict[str, Any]:
    if name == "venue_ranking":
        from models.ranking import train_ranking

        scores, meta = train_ranking(settings)
        return {
            "version": meta.version,
            "promoted": meta.status == "champion",
            "venues": len(scores),
        }
    if name == "sales_forecast":
        from models.forecast.train import train

        return train(settings, progress=note)
    from models.recommend import train as train_recommender

    result: dict[str, Any] = train_recommender(settings)
    return result


def _summary(result: dict[str, Any]) -> str:
    parts = [f"{k}={v}" for k, v in result.items() if isinstance(v, str | int | float | bool)]
    return ", ".join(parts)


@app.command("evaluate")
def evaluate_command(
    model: Annotated[str | None, typer.Option(help="one model only")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the comparison as JSON")] = False,
) -> None:
    """Every registered model version side by side: status, metrics, promotion decision."""
    from models.evaluation import compare_versions
    from models.registry import ModelRegistry, metric_text

    rows = compare_versions(ModelRegistry(_settings()), [model] if model else None)
    if as_json:
        typer.echo(json.dumps({"versions": rows}, default=str))
        return
    if not rows:
        console.print("no trained models yet; run `encore train`")
        return
    for name in dict.fromkeys(row["model"] for row in rows):
        mine = [row for row in rows if row["model"] == name]
        # the metrics promotion compared first: they must not be the columns cut off
        deciding = [m for m in dict.fromkeys(row["decided_by"] for row in mine) if m]
        others = sorted({m for row in mine for m in row["metrics"]} - set(deciding))
        metric_names = [*deciding, *others][:_MAX_METRIC_COLUMNS]
        table = Table("version", "status", "trained_at", *metric_names, "decision", title=name)
        for row in mine:
            table.add_row(
                row["version"],
                row["status"],
                row["trained_at"],
                *(
                    metric_text(m, row["metrics"][m]) if m in row["metrics"] else ""
                    for m in metric_names
                ),
                row["decision"] or "",
            )
        console.print(table)


@app.command("predict")
def predict_command(
    artist: Annotated[str, typer.Option(help="artist name (typos are forgiven)")],
    venue: Annotated[str, typer.Option(help="venue name")],
    date: Annotated[str, typer.Option(help="event date, YYYY-MM-DD")],
    price: Annotated[float | None, typer.Option(help="average ticket price")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the prediction as JSON")] = False,
) -> None:
    """Forecast tickets sold and gross for an artist at a venue on a date, with confidence."""
    from core.errors import EncoreError
    from tools.context import ToolContext
    from tools.insights.forecast import predict_ticket_sales

    try:
        with console.status("forecasting ..."):
            result = predict_ticket_sales(
                ToolContext(_settings()), artist=artist, venue=venue, date=date, price=price
            )
    except EncoreError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(result.model_dump_json())
        return
    flag = " [yellow](LOW CONFIDENCE)[/yellow]" if result.low_confidence else ""
    console.print(f"[bold]{result.artist}[/bold] at [bold]{result.venue}[/bold] on {result.date}")
    console.print(
        f"tickets: {result.tickets_sold:,} (80% interval {result.tickets_low:,}–"
        f"{result.tickets_high:,}), gross ${result.gross:,.0f} "
        f"(${result.gross_low:,.0f}–${result.gross_high:,.0f})"
    )
    console.print(f"confidence: {result.confidence:.2f}{flag}   model {result.model_version}")
    for line in result.explanation:
        console.print(f"  - {line}")


@app.command("drift")
def drift_command(
    alert: Annotated[bool, typer.Option(help="write alerts on drift or degradation")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Feature and prediction drift (PSI, KS) and live accuracy of logged predictions."""
    from models.monitoring import PSI_ALERT, drift_report, track_actuals

    settings = _settings()
    with console.status("computing drift ..."):
        report = {
            "drift": drift_report(settings, alert=alert),
            "actuals": track_actuals(settings, alert=alert),
        }
    if as_json:
        typer.echo(json.dumps(report, default=str))
        return
    drift = report["drift"]
    table = Table(
        "feature",
        "PSI",
        "KS",
        "KS p",
        title=f"drift: last {drift.get('reference_rows')} "
        f"completed vs {drift.get('current_rows')} scheduled concerts",
    )
    for row in drift["features"]:
        style = "red" if row["psi"] > PSI_ALERT else ""
        table.add_row(
            row["feature"],
            f"{row['psi']:.3f}",
            f"{row['ks']:.3f}",
            f"{row['ks_p']:.3g}",
            style=style,
        )
    if drift.get("prediction"):
        p = drift["prediction"]
        table.add_row(
            "[bold]prediction[/bold]", f"{p['psi']:.3f}", f"{p['ks']:.3f}", f"{p['ks_p']:.3g}"
        )
    console.print(table)
    if drift.get("verdict"):
        console.print(f"verdict: {drift['verdict']}")
    console.print(f"predictions vs actuals: {_summary(report['actuals'])}")
