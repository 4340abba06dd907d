"""`encore bench recsys`: the recommenders on real listening data, against strong baselines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

bench_app = typer.Typer()
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
