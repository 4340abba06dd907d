"""`encore ingest`, `stream`, `pipeline` and `quality`: moving data in and watching it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.markup import escape
from rich.table import Table

from core.errors import ConfigError
from core.settings import Settings
from pipelines.commands.common import (
    EntityName,
    app,
    console,
    pipeline_app,
    progress_bar,
    quality_app,
    stream_app,
)


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
    quality: Annotated[
        Literal["run", "warehouse"],
        typer.Option(help="check the tables this run changed, or the whole warehouse"),
    ] = "run",
) -> None:
    """Run every source: landing files, the stream and the APIs -> raw -> curated -> warehouse ->
    marts, then report the data quality of the tables the run changed (`--quality warehouse`:
    of every table, as `encore quality report`); a run that loaded nothing checks that the loads
    are fresh. A failed step is recorded in the run ledger and alerted. Exits 1 when a step fails
    or quality fails."""
    from pipelines.orchestrate import StepResult, changed_tables, run_pipeline

    table = Table("step", "status", "records", "accepted", "quarantined", "detail",
                  title="Pipeline run")  # fmt: skip

    def show(step: StepResult) -> None:
        colour = {"done": "green", "skipped": "yellow"}.get(step.status, "red")
        records = (f"{n:,}" for n in step.records)
        table.add_row(step.name, f"[{colour}]{step.status}[/]", *records, escape(step.detail))

    with console.status("running the pipeline ..."):
        steps, report = run_pipeline(
            Settings(), landing=landing, stream=stream, use_apis=apis, on_step=show,
            quality=quality,
        )  # fmt: skip
    console.print(table)
    for step in steps:
        if step.run_id:
            alerted = f"; {len(step.alerts)} alert(s) raised" if step.alerts else ""
            console.print(f"[red]{step.name} failed[/]: recorded as run {step.run_id} "
                          f"(`encore pipeline status`){alerted}")  # fmt: skip
    failing = [r for r in report.results if not r.passed]
    verdict = "[green]passed[/]" if report.passed else "[red]failed[/]"
    if quality == "warehouse":
        scope = "of the warehouse"
    elif changed_tables(steps):
        scope = "of the tables this run changed"
        scope += f" ({', '.join(sorted({r.entity for r in report.results}))})"
    else:
        scope = None
    if scope is None:
        stale = "[yellow]stale[/]" if failing else "[green]fresh[/]"
        console.print(f"no data changed, so only the freshness of the loads was checked: {stale} "
                      f"({len(report.results)} check(s), {len(failing)} over limit; "
                      "`encore quality report` checks the whole warehouse)")  # fmt: skip
    else:
        console.print(
            f"data quality {scope} {verdict}: {len(report.results)} checks, "
            f"{len(failing)} over limit"
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
    """Where an entity came from: every source record linked to it, the run and the raw file;
    then the Glue ETL runs that read those raw files, their curated output and Redshift table."""
    from core.warehouse import connect_reader
    from pipelines.lineage import KINDS, glue_steps, models_trained_on, source_records

    if entity not in KINDS:
        raise ConfigError("lineage covers artists, venues and concerts")
    settings = Settings()
    con = connect_reader(settings)
    try:
        records = source_records(con, entity, entity_id)
        steps = glue_steps(con, entity, records, settings.redshift_schema)
        exists = bool(
            con.execute(
                f"SELECT count(*) FROM {entity} WHERE {KINDS[entity]}_id = ?", [entity_id]
            ).fetchall()[0][0]
        )
        build = con.execute(
            "SELECT source, built_at FROM warehouse_builds ORDER BY built_at DESC LIMIT 1"
        ).fetchall()
    finally:
        con.close()
    if not records:
        if exists and build:  # a generated warehouse: its rows came from no source file
            source, built_at = build[0]
            console.print(
                f"{entity} {entity_id!r} has no source records: it came with the warehouse "
                f"{escape(source)} built on {built_at:%Y-%m-%d %H:%M} UTC (encore generate / "
                "demo), not through a pipeline; lineage starts at records loaded by "
                "`encore ingest` or `encore pipeline run`"
            )
        elif not exists:
            console.print(f"no {KINDS[entity]} {entity_id!r} in the warehouse")
        else:
            console.print(f"no source records are linked to {entity} {entity_id!r}")
        raise typer.Exit(1)
    table = Table("source", "source key", "match", "run", "loaded", "raw input",
                  title=f"Lineage of {entity} {entity_id}")  # fmt: skip
    for r in records:
        match = "founded" if r.match_score is None else f"{r.match_score:.3f}"
        loaded = f"{r.started_at:%Y-%m-%d %H:%M}" if r.started_at else ""
        table.add_row(escape(r.source), escape(r.source_key), match, r.run_id or "", loaded,
                      escape(r.raw_uri or ""))  # fmt: skip
    console.print(table)
    if steps:  # printed as chains, never cut: a URI is only useful whole
        console.print("[bold]Glue ETL runs over these raw files[/bold]")
    for step in steps:
        colour = "green" if step.status == "succeeded" else "red"
        lines = [
            f"raw {escape(step.raw_uri)}",
            f"  -> Glue run {escape(step.glue_run_id)} (run {step.run_id}, "
            f"[{colour}]{step.status}[/{colour}])",
            *(f"  -> curated {escape(uri)}" for uri in step.curated),
        ]
        if step.redshift_table:
            lines.append(f"  -> Redshift {step.redshift_table}")
        console.print("\n".join(lines), soft_wrap=True)
    trained = models_trained_on(settings, records)
    if trained:  # the last hop: source -> run -> warehouse -> model
        console.print("[bold]Model versions trained on data that includes it[/bold]")
    for m in trained:
        when = f"{m.trained_at:%Y-%m-%d %H:%M}"
        console.print(f"  {m.name} {m.version} ({m.status}, trained {when}; "
                      f"data up to load {m.last_load})", soft_wrap=True)  # fmt: skip


@pipeline_app.command("status")
def pipeline_status_command(
    limit: Annotated[int, typer.Option(help="how many runs to show")] = 20,
    as_json: Annotated[
        bool, typer.Option("--json", help='print {"runs": [...], "refreshes": [...]} as JSON')
    ] = False,
) -> None:
    """The latest pipeline runs (scheduled runs and model refreshes among them): status, counts,
    duration and errors, then the latest model refreshes and how long after new data each came.
    Times are UTC."""
    from core.warehouse import connect_reader
    from pipelines.commands.schedule import print_refreshes
    from pipelines.ledger import RunLedger
    from pipelines.schedule import recent_refreshes

    con = connect_reader(Settings())
    try:
        runs = RunLedger(con).recent(limit)
        refreshes = recent_refreshes(con)
    finally:
        con.close()
    if as_json:
        document = {"runs": runs, "refreshes": refreshes}
        typer.echo(json.dumps(document, default=_json_value, indent=2))
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
    print_refreshes(refreshes)


def _json_value(value: object) -> object:
    # the ledger's times are naive UTC: say so in the text (2026-11-27T09:48:31+00:00)
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return str(value)


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
    totals = {"batches": 0, "records": 0, "accepted": 0, "quarantined": 0, "repeats": 0}

    def handle(records: list[StreamRecord]) -> None:
        outcomes = load_batch(settings, records, source=f"stream:{stream}")
        totals["batches"] += 1
        totals["records"] += len(records)
        loaded = 0
        for outcome in outcomes:
            if outcome.run:
                totals["accepted"] += outcome.run.accepted
                totals["quarantined"] += outcome.run.quarantined
                loaded += outcome.run.records_in
        # delivered again: within the batch, or a whole batch already loaded
        totals["repeats"] += len(records) - loaded
        console.print(f"batch {totals['batches']}: {len(records):,} records")

    source.consume(group, handle, max_batches=max_batches, max_records=batch_size,
                   idle_timeout_s=idle_timeout)  # fmt: skip
    console.print(
        f"consumed {totals['records']:,} records in {totals['batches']} batches: "
        f"{totals['accepted']:,} accepted, {totals['quarantined']:,} quarantined, "
        f"{totals['repeats']:,} repeats of records delivered before (at least once); "
        f"lag now {sum(source.lag(group).values()):,}"
    )


@quality_app.command("report")
def quality_report_command(
    run: Annotated[str | None, typer.Option(help="include this run's validity")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Quality checks over the warehouse: completeness, validity, uniqueness, integrity,
    freshness and outliers, each against its threshold. Exits 1 when an error-level check fails."""
    from core.warehouse import connect_reader
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
