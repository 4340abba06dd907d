"""`encore bench ...`: each benchmark against a baseline measured in the same run."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pipelines.commands.common import bench_app, console
from pipelines.generate import SCALES, ScaleName


@bench_app.command("generate")
def bench_generate_command(
    scale: Annotated[ScaleName, typer.Option(help="dataset size to time")] = "default",
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Time generating and loading a dataset against DuckDB inserting as many rows from range()."""
    from pipelines.bench import bench_generate

    with console.status(f"generating and loading the {scale} dataset ..."):
        result = bench_generate(scale).as_dict()
    if as_json:
        typer.echo(json.dumps(result))
        return
    table = Table("measure", "value", title=f"generate + load, {scale} scale")
    for key, value in result.items():
        table.add_row(key, f"{value:,}" if isinstance(value, int | float) else str(value))
    console.print(table)
    console.print(
        f"Encore: {result['rows_per_s']:,} rows/s; DuckDB from range(): "
        f"{result['baseline_rows_per_s']:,} rows/s; ratio {result['ratio_to_baseline']}x"
    )


@bench_app.command("ingest")
def bench_ingest_command(
    rows: Annotated[int, typer.Option(help="at least this many ticket-sale rows")] = 1_000_000,
    runs: Annotated[
        int, typer.Option(min=1, help="ingest this many times and report the medians")
    ] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Time ingesting a ticket-sales CSV end to end against DuckDB's read_csv of the same file.

    Each run ingests into a fresh copy of the same warehouse and is followed by DuckDB's read_csv
    of the file; the ratio is taken within each run and the median is reported, with the median
    seconds of each step of the ingestion.
    """
    from pipelines.bench import bench_ingest

    with console.status(f"generating the file, then ingesting it {runs} times ..."):
        result = bench_ingest(rows, runs=runs).as_dict()
    if as_json:
        typer.echo(json.dumps(result))
        return
    steps = result.pop("steps_s")
    table = Table("measure", "value", title="ingest ticket_sales.csv (validate, quarantine, load)")
    for key, value in result.items():
        table.add_row(key, f"{value:,}" if isinstance(value, int | float) else str(value))
    console.print(table)
    by_step = Table("step", "seconds (median)", title="where the ingestion's time goes")
    for name, seconds in steps.items():
        by_step.add_row(name, f"{seconds:.3f}")
    console.print(by_step)
    console.print(
        f"Encore: {result['rows_per_s']:,} rows/s end to end; "
        f"{result['ratio_to_read_csv']}x DuckDB's read_csv of the same file "
        f"(median of {result['runs']} runs: {result['ratios']})"
    )


@bench_app.command("dedup")
def bench_dedup_command(
    data: Annotated[
        Path | None, typer.Option(help="a `generate --dirty --out` folder (default: make one)")
    ] = None,
    scale: Annotated[
        ScaleName, typer.Option(help="scale of the folder made when --data is not given")
    ] = "default",
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Entity resolution against the dirty data's ground truth: pairwise P/R/F1 and speed."""
    import tempfile

    from pipelines.dedup_bench import bench_dedup
    from pipelines.generate import generate
    from pipelines.generate.dirty import make_dirty
    from pipelines.sinks.files import FileSink

    with tempfile.TemporaryDirectory(prefix="encore-dedup-") as tmp:
        folder = data
        if folder is None:
            folder = Path(tmp)
            with (
                console.status(f"generating the {scale} dirty dataset ..."),
                FileSink(folder, "csv") as sink,
            ):
                for name, chunk in make_dirty(generate(SCALES[scale], 42, date.today()), 42):
                    sink.write(name, chunk)
        with console.status("resolving entities ..."):
            result = bench_dedup(folder)
    if as_json:
        typer.echo(json.dumps(result, default=str))
        return
    table = Table("entity", "records", "precision", "recall", "F1", "seconds", "records/s",
                  title="entity resolution vs ground truth")  # fmt: skip
    for entity, m in result.items():
        if not isinstance(m, dict):
            continue
        scores = (f"{m.get(k, 0):.4f}" for k in ("precision", "recall", "f1"))
        speed = (f"{m.get('seconds', 0):.2f}", f"{m.get('records_per_s', 0):,.0f}")
        table.add_row(entity, f"{m.get('records', 0):,}", *scores, *speed)
    console.print(table)
