"""Ingestion triggers: tools that WRITE to the warehouse, so each needs `confirm=True`.

Without confirmation a trigger does nothing and answers what it would do, so a client (the chat
UI, Claude Desktop) can show that to the user and call again with `confirm=True`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, Field

from core.errors import ValidationError
from core.settings import Settings
from core.warehouse import reading
from pipelines.ingest import FileOutcome, ingest_files
from tools.context import ToolContext
from tools.results import Table

_WRITER_ROLES: Final = frozenset({"admin", "analyst"})
_FORMATS: Final = frozenset({".csv", ".tsv", ".txt", ".json", ".jsonl", ".ndjson", ".xml"})

Status = Literal["needs_confirmation", "done", "skipped", "failed"]


class FileReport(BaseModel):
    """What happened to one file."""

    file: str
    entity: str | None
    status: str
    records_in: int = 0
    accepted: int = 0
    quarantined: int = 0
    message: str = ""
    quarantine_samples: list[str] = Field(default_factory=list, description="line: reasons")


class TriggerResult(BaseModel):
    """Outcome of a write tool; `needs_confirmation` means nothing was written yet."""

    status: Status
    message: str
    files: list[FileReport] = Field(default_factory=list)
    steps: list[dict[str, Any]] = Field(default_factory=list)
    quality: dict[str, Any] | None = None


def _require_writer(ctx: ToolContext) -> None:
    if ctx.role not in _WRITER_ROLES:
        raise ValidationError(
            f"the {ctx.role!r} role may not change data; ask an analyst or admin", role=ctx.role
        )


def _allowed_file(settings: Settings, path: str) -> Path:
    """Uploads must sit under the data dir or the working directory (no reading /etc via CSV)."""
    resolved = Path(path).expanduser().resolve()
    roots = [settings.data_dir.resolve(), Path.cwd().resolve()]
    if not any(resolved.is_relative_to(root) for root in roots):
        raise ValidationError(
            f"{path} is outside the folders Encore ingests from "
            f"({', '.join(str(r) for r in roots)}); copy it into {settings.data_dir / 'uploads'}",
            path=path,
        )
    if not resolved.exists():
        raise ValidationError(f"no such file or folder: {path}", path=path)
    if resolved.is_file() and resolved.suffix.lower() not in _FORMATS:
        raise ValidationError(
            f"{resolved.name}: Encore reads {', '.join(sorted(_FORMATS))} files", path=path
        )
    return resolved


def _report(outcome: FileOutcome) -> FileReport:
    run = outcome.run
    samples = [
        f"line {line}: {'; '.join(reasons)}" if line else "; ".join(reasons)
        for line, reasons in outcome.quarantine_samples[:5]
    ]
    return FileReport(
        file=outcome.path.name,
        entity=outcome.entity,
        status=outcome.status,
        records_in=run.records_in if run else 0,
        accepted=run.accepted if run else 0,
        quarantined=run.quarantined if run else 0,
        message=outcome.message,
        quarantine_samples=samples,
    )


def ingest_file(
    ctx: ToolContext,
    *,
    path: str,
    entity: str | None = None,
    source: str | None = None,
    confirm: bool = False,
) -> TriggerResult:
    """Ingest a CSV/JSON/XML file (or folder) into the warehouse. WRITES: needs confirm=True.

    The entity (artists, venues, concerts, ticket_sales, fans, concert_results) is inferred from
    the columns when not given. Bad rows are quarantined with reasons, never dropped.
    """
    _require_writer(ctx)
    target = _allowed_file(ctx.settings, path)
    if not confirm:
        return TriggerResult(
            status="needs_confirmation",
            message=f"ingest {target.name} as {entity or 'the entity its columns show'}; "
            "call again with confirm=true to load it",
        )
    outcomes = ingest_files(
        ctx.settings, [target], entity=entity, source=source or f"upload:{ctx.user}"
    )
    files = [_report(o) for o in outcomes]
    failed = [f for f in files if f.status == "failed"]
    loaded = sum(f.accepted for f in files)
    quarantined = sum(f.quarantined for f in files)
    message = f"{loaded:,} records loaded, {quarantined:,} quarantined from {len(files)} file(s)"
    if failed:
        message += f"; {failed[0].file} failed: {failed[0].message}"
    return TriggerResult(
        status="failed" if failed else "done",
        message=message,
        files=files,
        quality=quality_report(ctx),
    )


def start_pipeline_run(ctx: ToolContext, *, confirm: bool = False) -> TriggerResult:
    """Run every pipeline (landing folder, stream, configured APIs). WRITES: needs confirm=True."""
    from pipelines.orchestrate import run_pipeline

    _require_writer(ctx)
    if not confirm:
        return TriggerResult(
            status="needs_confirmation",
            message="run the landing folder, the stream and the configured API sources; "
            "call again with confirm=true to start",
        )
    steps, report = run_pipeline(ctx.settings)
    return TriggerResult(
        status="failed" if any(s.status == "failed" for s in steps) else "done",
        message="; ".join(f"{s.name}: {s.status} {s.detail}".strip() for s in steps),
        files=[_report(o) for s in steps for o in s.outcomes],
        steps=[{"name": s.name, "status": s.status, "detail": s.detail} for s in steps],
        quality=report.as_dict(),
    )


def refresh_source(
    ctx: ToolContext,
    *,
    source: Literal["ticketmaster", "spotify", "setlistfm"],
    confirm: bool = False,
) -> TriggerResult:
    """Pull fresh data from one API source into the warehouse. WRITES: needs confirm=True."""
    from pipelines.orchestrate import refresh_source as run_source

    _require_writer(ctx)
    if not confirm:
        return TriggerResult(
            status="needs_confirmation",
            message=f"refresh {source}; call again with confirm=true to start",
        )
    step = run_source(ctx.settings, source)
    return TriggerResult(
        status=step.status,
        message=f"{step.name}: {step.status} {step.detail}".strip(),
        files=[_report(o) for o in step.outcomes],
    )


class RunStatus(BaseModel):
    """Pipeline runs from the ledger, newest first."""

    runs: list[dict[str, Any]]


def run_status(ctx: ToolContext, *, run_id: str | None = None, limit: int = 10) -> RunStatus:
    """Status of one pipeline run, or of the latest runs: counts, duration, errors."""
    with reading(ctx.settings) as con:
        if run_id:
            cursor = con.execute("SELECT * FROM pipeline_runs WHERE run_id = ?", [run_id])
        else:
            cursor = con.execute(
                "SELECT * FROM pipeline_runs ORDER BY started_at DESC LIMIT ?",
                [max(1, min(limit, 100))],
            )
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    if run_id and not rows:
        raise ValidationError(f"no pipeline run {run_id!r}", run_id=run_id)
    return RunStatus(runs=Table.from_rows(names, rows).records())


def quality_report(ctx: ToolContext) -> dict[str, Any]:
    """The data-quality report of the warehouse: every check, its share flagged and verdict."""
    from pipelines.quality import assess

    with reading(ctx.settings) as con:
        return assess(con, record_flags=False).as_dict()
