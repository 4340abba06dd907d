"""`encore` commands for data: generate the demo dataset, check warehouse integrity."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from core.errors import ConfigError
from core.settings import Settings
from core.warehouse import connect_reader
from pipelines.generate import SCALES, Chunk, ScaleName, generate
from pipelines.integrity import IntegrityReport, check_warehouse
from pipelines.sinks.files import FileFormat
from pipelines.sinks.warehouse import last_build, rebuild

app = typer.Typer()
bench_app = typer.Typer()
pipeline_app = typer.Typer(help="Pipeline runs: status and history.", no_args_is_help=True)
app.add_typer(pipeline_app, name="pipeline")
stream_app = typer.Typer(help="The stream: produce records, consume them into the warehouse.",
                         no_args_is_help=True)  # fmt: skip
app.add_typer(stream_app, name="stream")
quality_app = typer.Typer(help="Data quality checks and reports.", no_args_is_help=True)
app.add_typer(quality_app, name="quality")
console = Console()


def progress_bar() -> Progress:
    """The progress display every long-running command uses."""
    return Progress(
        TextColumn("[bold]{task.description:<14}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


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


def print_counts(counts: dict[str, int], title: str) -> None:
    """Rows per table, as a table."""
    table = Table("table", "rows", title=title)
    for name, rows in counts.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)


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


EntityName = Literal["artists", "venues", "concerts", "ticket_sales", "fans", "concert_results"]


@app.command("ingest")
def ingest_command(
    paths: Annotated[
        list[Path], typer.Argument(help="files or folders (CSV, JSON, JSON Lines, XML)")
    ],
    entity: Annotated[
        EntityName | None, typer.Option(help="what the files hold (default: inferred from columns)")
    ] = None,
    source: Annotated[str, typer.Option(help="name of the source, kept for lineage")] = "files",
    force: Annotated[bool, typer.Option(help="load again even if this content was loaded")] = False,
) -> None:
    """Ingest files into the lake and the warehouse, quarantining bad rows with their reasons.

    Each file is one atomic, idempotent run: land raw -> parse -> validate -> normalise ->
    resolve entities -> load. Folders are read whole; parents (artists, venues) load first.
    """
    from pipelines.ingest import FileOutcome, expand_inputs, ingest_files

    settings = Settings()
    files = expand_inputs(paths)
    table = Table(
        "file",
        "entity",
        "status",
        "rows",
        "accepted",
        "quarantined",
        "inserted",
        "updated",
        title="Ingestion",
    )
    with progress_bar() as progress:
        task = progress.add_task("ingesting", total=len(files))

        def done(outcome: FileOutcome) -> None:
            run = outcome.run
            colour = {"succeeded": "green", "skipped": "yellow"}.get(outcome.status, "red")
            table.add_row(
                outcome.path.name,
                outcome.entity or "?",
                f"[{colour}]{outcome.status}[/]",
                *(
                    f"{n:,}"
                    for n in (
                        (run.records_in, run.accepted, run.quarantined, run.inserted, run.updated)
                        if run
                        else (0, 0, 0, 0, 0)
                    )
                ),
            )
            progress.update(task, advance=1, description=outcome.path.name[:14])

        outcomes = ingest_files(
            settings, paths, entity=entity, source=source, force=force, on_file=done
        )
    console.print(table)
    for outcome in outcomes:  # data is shown escaped: "[b]" in a value is text, not markup
        if outcome.message:
            console.print(f"[bold]{escape(outcome.path.name)}[/]: {escape(outcome.message)}")
        for line, reasons in outcome.quarantine_samples:
            console.print(f"  line {line}: {escape('; '.join(reasons))}")
    if any(o.status == "failed" for o in outcomes):
        raise typer.Exit(1)


@pipeline_app.command("run")
def pipeline_run_command(
    landing: Annotated[
        Path | None, typer.Option(help="folder of files to ingest (default: <data dir>/landing)")
    ] = None,
    stream: Annotated[str, typer.Option(help="stream to consume")] = "events",
    apis: Annotated[bool, typer.Option(help="refresh from the APIs that have keys set")] = True,
) -> None:
    """Run every source: landing files, the stream and the APIs -> raw -> curated -> warehouse ->
    marts, then report data quality. Exits 1 when a step fails or quality fails."""
    from pipelines.orchestrate import StepResult, run_pipeline

    table = Table("step", "status", "records", "accepted", "quarantined", "detail",
                  title="Pipeline run")  # fmt: skip

    def show(step: StepResult) -> None:
        colour = {"done": "green", "skipped": "yellow"}.get(step.status, "red")
        records = (f"{n:,}" for n in step.records)
        table.add_row(step.name, f"[{colour}]{step.status}[/]", *records, step.detail)

    with console.status("running the pipeline ..."):
        steps, report = run_pipeline(
            Settings(), landing=landing, stream=stream, use_apis=apis, on_step=show
        )
    console.print(table)
    failing = [r for r in report.results if not r.passed]
    verdict = "[green]passed[/]" if report.passed else "[red]failed[/]"
    console.print(
        f"data quality {verdict}: {len(report.results)} checks, {len(failing)} over limit"
    )
    for r in failing:
        console.print(f"  {r.entity}: {r.name} ({r.share:.1%} of {r.rows:,})")
    if any(s.status == "failed" for s in steps) or not report.passed:
        raise typer.Exit(1)


@pipeline_app.command("lineage")
def pipeline_lineage_command(
    entity: Annotated[str, typer.Argument(help="artists, venues or concerts")],
    entity_id: Annotated[str, typer.Argument(help="the canonical id")],
) -> None:
    """Where an entity came from: every source record linked to it, the run and the raw file."""
    kind = {"artists": "artist", "venues": "venue", "concerts": "concert"}.get(entity)
    if kind is None:
        raise ConfigError("lineage covers artists, venues and concerts")
    con = connect_reader(Settings())
    try:
        rows = con.execute(
            """SELECT m.source, m.source_key, m.match_score, m.run_id, r.started_at,
                      r.inputs->0->>'raw_uri'
               FROM entity_map m LEFT JOIN pipeline_runs r USING (run_id)
               WHERE m.entity_type = ? AND m.canonical_id = ? ORDER BY r.started_at""",
            [kind, entity_id],
        ).fetchall()
    finally:
        con.close()
    if not rows:
        console.print(f"no source records are linked to {entity} {entity_id!r}")
        raise typer.Exit(1)
    table = Table("source", "source key", "match", "run", "loaded", "raw input",
                  title=f"Lineage of {entity} {entity_id}")  # fmt: skip
    for source, key, score, run, started, raw in rows:
        match = "founded" if score is None else f"{score:.3f}"
        table.add_row(source, key, match, run or "", f"{started:%Y-%m-%d %H:%M}" if started else "",
                      raw or "")  # fmt: skip
    console.print(table)


@pipeline_app.command("status")
def pipeline_status_command(
    limit: Annotated[int, typer.Option(help="how many runs to show")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="print the runs as JSON")] = False,
) -> None:
    """The latest pipeline runs: status, counts, duration and errors."""
    from pipelines.ledger import RunLedger

    con = connect_reader(Settings())
    try:
        runs = RunLedger(con).recent(limit)
    finally:
        con.close()
    if as_json:
        typer.echo(json.dumps(runs, default=str, indent=2))
        return
    table = Table(
        "run",
        "pipeline",
        "source",
        "entity",
        "status",
        "in",
        "accepted",
        "quarantined",
        "seconds",
        "error",
        title="Pipeline runs",
    )
    for r in runs:
        seconds = (r["finished_at"] - r["started_at"]).total_seconds() if r["finished_at"] else None
        colour = {"succeeded": "green", "skipped": "yellow", "running": "cyan"}.get(
            r["status"], "red"
        )
        table.add_row(
            r["run_id"],
            r["pipeline"],
            r["source"],
            r["entity"] or "",
            f"[{colour}]{r['status']}[/]",
            f"{r['records_in']:,}",
            f"{r['accepted']:,}",
            f"{r['quarantined']:,}",
            f"{seconds:.1f}" if seconds is not None else "",
            (r["error"] or "")[:60],
        )
    console.print(table)


@stream_app.command("produce")
def stream_produce_command(
    paths: Annotated[list[Path], typer.Argument(help="files whose records to send")],
    entity: Annotated[EntityName | None, typer.Option(help="what the files hold")] = None,
    stream: Annotated[str, typer.Option(help="stream name")] = "events",
) -> None:
    """Send the records of files to the stream (the local log, or Kinesis by settings)."""
    from pipelines.stream import open_stream
    from pipelines.streaming import produce_file

    settings = Settings()
    target = open_stream(settings, stream, settings.stream_kind, region=settings.aws_region,
                         partitions=settings.stream_partitions)  # fmt: skip
    for path in paths:
        sent = produce_file(target, path, entity)
        console.print(f"{path.name}: {sent:,} records sent to stream [bold]{stream}[/]")


@stream_app.command("consume")
def stream_consume_command(
    stream: Annotated[str, typer.Option(help="stream name")] = "events",
    group: Annotated[str, typer.Option(help="consumer group (its checkpoint)")] = "warehouse",
    max_batches: Annotated[int | None, typer.Option(help="stop after this many batches")] = None,
    batch_size: Annotated[int, typer.Option(help="records per batch")] = 5_000,
    idle_timeout: Annotated[
        float | None, typer.Option(help="stop after this many idle seconds (default: 5)")
    ] = 5.0,
) -> None:
    """Load the stream into the lake and the warehouse, at least once, batch by batch."""
    from pipelines.stream import StreamRecord, open_stream
    from pipelines.streaming import load_batch

    settings = Settings()
    source = open_stream(settings, stream, settings.stream_kind, region=settings.aws_region,
                         partitions=settings.stream_partitions)  # fmt: skip
    totals = {"batches": 0, "records": 0, "accepted": 0, "quarantined": 0}

    def handle(records: list[StreamRecord]) -> None:
        outcomes = load_batch(settings, records, source=f"stream:{stream}")
        totals["batches"] += 1
        totals["records"] += len(records)
        for outcome in outcomes:
            if outcome.run:
                totals["accepted"] += outcome.run.accepted
                totals["quarantined"] += outcome.run.quarantined
        console.print(f"batch {totals['batches']}: {len(records):,} records")

    source.consume(group, handle, max_batches=max_batches, max_records=batch_size,
                   idle_timeout_s=idle_timeout)  # fmt: skip
    console.print(
        f"consumed {totals['records']:,} records in {totals['batches']} batches: "
        f"{totals['accepted']:,} accepted, {totals['quarantined']:,} quarantined; "
        f"lag now {sum(source.lag(group).values()):,}"
    )


@quality_app.command("report")
def quality_report_command(
    run: Annotated[str | None, typer.Option(help="include this run's validity")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Quality checks over the warehouse: completeness, validity, uniqueness, integrity,
    freshness and outliers, each against its threshold. Exits 1 when an error-level check fails."""
    from pipelines.quality import assess

    con = connect_reader(Settings())
    try:
        report = assess(con, run, record_flags=False)
    finally:
        con.close()
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
    else:
        table = Table("entity", "check", "dimension", "severity", "rows", "flagged", "share",
                      "limit", "result", title="Data quality")  # fmt: skip
        for r in report.results:
            verdict = (
                "[green]pass[/]"
                if r.passed
                else ("[red]FAIL[/]" if r.severity == "error" else "[yellow]over[/]")
            )
            figures = (f"{r.rows:,}", f"{r.flagged:,}", f"{r.share:.2%}", f"{r.threshold:.0%}")
            table.add_row(r.entity, r.name, r.dimension, r.severity, *figures, verdict)
        console.print(table)
    if not report.passed:
        raise typer.Exit(1)


@app.command("check")
def check_command(
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Check the warehouse's integrity: counts, orphans, nulls, out-of-range values.

    Exits 1 when an error-level rule is broken (warnings are reported but do not fail).
    """
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
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Time ingesting a ticket-sales CSV end to end against DuckDB's read_csv of the same file."""
    from pipelines.bench import bench_ingest

    with console.status("generating the file, then ingesting it ..."):
        result = bench_ingest(rows).as_dict()
    if as_json:
        typer.echo(json.dumps(result))
        return
    table = Table("measure", "value", title="ingest ticket_sales.csv (validate, quarantine, load)")
    for key, value in result.items():
        table.add_row(key, f"{value:,}" if isinstance(value, int | float) else str(value))
    console.print(table)
    console.print(
        f"Encore: {result['rows_per_s']:,} rows/s end to end; "
        f"{result['ratio_to_read_csv']}x DuckDB's read_csv of the same file"
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
