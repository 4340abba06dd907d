"""`encore generate` and `encore check`: the demo dataset and the warehouse's integrity."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from core.errors import ConfigError
from core.settings import Settings
from pipelines.commands.common import app, console, print_counts, progress_bar
from pipelines.generate import SCALES, ScaleName
from pipelines.sinks import FileFormat

if TYPE_CHECKING:  # imported where used: `encore --help` need not load pandas for them
    from pipelines.generate import Chunk
    from pipelines.integrity import IntegrityReport


@app.command("generate")
def generate_command(
    scale: Annotated[
        ScaleName,
        typer.Option(help="small (>=10k records), default (>=1M sales), large (>=10M sales)"),
    ] = "default",
    seed: Annotated[int, typer.Option(help="the same seed and --as-of give the same data")] = 42,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="the 'today' of the data, YYYY-MM-DD (default: today)"),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="write files here instead of loading the warehouse")
    ] = None,
    fmt: Annotated[FileFormat, typer.Option("--format", help="file format with --out")] = "csv",
    dirty: Annotated[
        bool,
        typer.Option(
            help="add real-world mess (name variants, two sources, bad rows) "
            "and its ground truth; needs --out"
        ),
    ] = False,
    replace: Annotated[
        bool, typer.Option(help="overwrite a warehouse that already holds data")
    ] = False,
) -> None:
    """Generate the realistic demo dataset and load it into the warehouse (or write files).

    Artists, venues in real cities, fans, concerts over three past years and the next one, ticket
    sales and box-score results: referentially intact and deterministic by seed.
    """
    from pipelines.sinks.warehouse import last_build

    settings = Settings()
    day = _parse_date(as_of)
    if dirty and out is None:
        raise ConfigError(
            "--dirty writes raw source files for the pipelines to clean; add --out DIR"
        )
    if out is None and not replace:
        existing = sum((last_build(settings) or {}).get("counts", {}).values())
        if existing:
            raise ConfigError(
                f"the warehouse at {settings.warehouse_file} already holds {existing:,} rows; "
                "pass --replace to overwrite it with generated data"
            )
    counts, elapsed = build_dataset(settings, scale, seed, day, out=out, fmt=fmt, dirty=dirty)
    where = out if out is not None else settings.warehouse_file
    print_counts(counts, f"{scale} dataset, seed {seed}, as of {day.isoformat()}")
    total = sum(counts.values())
    console.print(f"{total:,} rows in {elapsed:.1f} s ({total / elapsed:,.0f} rows/s) -> {where}")


def build_dataset(
    settings: Settings,
    scale: ScaleName,
    seed: int,
    as_of: date,
    *,
    out: Path | None = None,
    fmt: FileFormat = "csv",
    dirty: bool = False,
) -> tuple[dict[str, int], float]:
    """Generate a dataset into the warehouse (or files under `out`) with a progress bar."""
    from pipelines.generate import generate
    from pipelines.sinks.warehouse import rebuild

    spec = SCALES[scale]
    started = time.perf_counter()
    with progress_bar() as progress:
        expected = spec.artists + spec.venues + spec.fans + spec.concerts + spec.ticket_sales
        task = progress.add_task("generating", total=expected)

        def advance(table: str, rows: int) -> None:
            progress.update(task, advance=rows, description=table)

        chunks = generate(spec, seed, as_of)
        if out is None:
            parameters = {"scale": scale, "seed": seed, "as_of": as_of.isoformat()}
            counts = rebuild(
                settings, chunks, source="generator", parameters=parameters, on_chunk=advance
            )
        else:
            counts = _write_files(chunks, out, fmt, dirty, seed, advance)
        done = sum(counts.values())
        progress.update(task, completed=done, total=done, description="done")
    return counts, time.perf_counter() - started


def _write_files(
    chunks: Iterator[Chunk],
    out: Path,
    fmt: FileFormat,
    dirty: bool,
    seed: int,
    advance: Callable[[str, int], None],
) -> dict[str, int]:
    """Stream the dataset into files under `out` (with `--dirty`: two sources and ground truth)."""
    from pipelines.generate.dirty import make_dirty
    from pipelines.sinks.files import FileSink

    stream = make_dirty(chunks, seed) if dirty else chunks
    with FileSink(out, fmt) as sink:
        for name, chunk in stream:
            sink.write(name, chunk)
            advance(name.split("/")[-1], chunk.num_rows)
    return {name: written.rows for name, written in sink.close().items()}


@app.command("check")
def check_command(
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Check the warehouse's integrity: counts, orphans, nulls, out-of-range values.

    Exits 1 when an error-level rule is broken (warnings are reported but do not fail).
    """
    from core.warehouse import connect_reader
    from pipelines.integrity import check_warehouse

    settings = Settings()
    con = connect_reader(settings)
    try:
        report = check_warehouse(con)
    finally:
        con.close()
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
    else:
        _print_report(report)
    if not report.ok:
        raise typer.Exit(1)


def _print_report(report: IntegrityReport) -> None:
    print_counts(report.counts, "Warehouse")
    problems = report.problems
    if problems:
        table = Table("severity", "table", "kind", "rule", "rows", "examples", title="Problems")
        for f in problems:
            colour = "red" if f.severity == "error" else "yellow"
            table.add_row(
                f"[{colour}]{f.severity}[/]",
                f.table,
                f.kind,
                f.rule,
                f"{f.rows:,}",
                ", ".join(f.examples),
            )
        console.print(table)
    verdict = "[green]integrity OK[/]" if report.ok else "[red]integrity broken[/]"
    console.print(f"{verdict}: {len(report.findings)} rules checked, {len(problems)} with findings")


def _parse_date(value: str | None) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"--as-of must be a date like 2026-11-26; got {value!r}") from exc
