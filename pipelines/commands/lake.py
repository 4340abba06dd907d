"""`encore lake tier`: tier the lake by age and access (local), or set S3 lifecycle rules."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from core.errors import EncoreError
from core.settings import Settings
from pipelines.commands.common import app, console

lake_app = typer.Typer(help="The lake: tiering by age and access.", no_args_is_help=True)
app.add_typer(lake_app, name="lake")


def _bytes(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


@lake_app.command("tier")
def tier_command(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="show the plan, change nothing")
    ] = False,
    aws: Annotated[
        bool, typer.Option("--aws", help="set the lake bucket's S3 lifecycle rules instead")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Move raw partitions older than ENCORE_LAKE_HOT_DAYS to the cold tier (packed into zstd
    Parquet), unless the lake engine read them in the last ENCORE_LAKE_READ_KEEPS_HOT_DAYS;
    expire raw older than ENCORE_LAKE_RAW_EXPIRY_DAYS when set. Curated data stays hot.
    With --aws: the same intent as S3 lifecycle rules on ENCORE_LAKE_BUCKET.
    """
    from pipelines.lake.tiering import TierPolicy

    settings, policy = Settings(), TierPolicy()
    try:
        if aws:
            _tier_aws(settings, policy, dry_run=dry_run, as_json=as_json)
        else:
            _tier_local(settings, policy, dry_run=dry_run, as_json=as_json)
    except EncoreError as exc:
        console.print(f"[red]{escape(exc.message)}[/red]")
        raise typer.Exit(1) from exc


def _tier_local(settings: Settings, policy: object, *, dry_run: bool, as_json: bool) -> None:
    from pipelines.lake.tiering import TierPolicy, apply

    assert isinstance(policy, TierPolicy)
    report = apply(settings, policy, dry_run=dry_run)
    if as_json:
        typer.echo(json.dumps({
            "run_id": report.run_id, "dry_run": report.dry_run,
            "partitions": [
                {"dataset": p.dataset, "partition": p.partition, "tier": p.tier,
                 "action": p.action, "why": p.why, "files": p.files,
                 "bytes_before": p.bytes_before, "bytes_after": p.bytes_after}
                for p in report.partitions
            ],
        }))  # fmt: skip
        return
    title = "lake tiering" + (" (dry run)" if dry_run else "")
    table = Table("dataset", "partition", "tier", "action", "why", "files", "bytes before",
                  "bytes after", title=title)  # fmt: skip
    for p in report.partitions:
        table.add_row(p.dataset, p.partition, p.tier, p.action, p.why, str(p.files),
                      _bytes(p.bytes_before), _bytes(p.bytes_after))  # fmt: skip
    if report.partitions:
        console.print(table)
    cold = [p for p in report.partitions if p.action == "cold"]
    before = sum(p.bytes_before for p in cold)
    after = sum(p.bytes_after or 0 for p in cold)
    kept = report.count("hot (read)")
    expired = report.count("expire")
    if dry_run:
        console.print(
            f"dry run: would move {len(cold)} partitions to cold ({before:,} bytes), expire "
            f"{expired}; {kept} kept hot because they were read. Nothing was changed."
        )
    else:
        console.print(
            f"moved {len(cold)} partitions to cold ({before:,} -> {after:,} bytes), expired "
            f"{expired}; {kept} kept hot because they were read"
            + (f"; ledger run {report.run_id}" if report.run_id else "; nothing to do")
        )


def _tier_aws(settings: Settings, policy: object, *, dry_run: bool, as_json: bool) -> None:
    from core.aws import client, require
    from pipelines.lake.lifecycle import apply_lifecycle, lifecycle_rules
    from pipelines.lake.tiering import TierPolicy

    assert isinstance(policy, TierPolicy)
    require(settings, "lake_bucket")
    bucket = str(settings.lake_bucket)
    if dry_run:
        typer.echo(json.dumps({"bucket": bucket, "rules": lifecycle_rules(policy)}, indent=2))
        return
    report = apply_lifecycle(client("s3", settings), bucket, policy)
    if as_json:
        typer.echo(json.dumps({"created": report.created, "updated": report.updated,
                               "deleted": report.deleted, "skipped": report.skipped}))  # fmt: skip
        return
    console.print(f"s3://{bucket}: {report.summary()}")
