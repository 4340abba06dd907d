"""Ingestion triggers: tools that WRITE to the warehouse, so each needs `confirm=True`.

Without confirmation a trigger does nothing and answers what it would do, so a client (the chat
UI, Claude Desktop) can show that to the user and call again with `confirm=True`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ValidationError
from core.settings import Settings
from core.warehouse import reading
from pipelines.ingest import FileOutcome, expand_inputs, ingest_files
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


class IngestSettings(BaseSettings):
    """Which folders `ingest_file` reads from (`ENCORE_INGEST_*`), besides the data dir's inbox."""

    model_config = SettingsConfigDict(env_prefix="ENCORE_INGEST_", env_file=".env", extra="ignore")

    roots: list[Path] = Field(
        default_factory=list, description="more folders files may be ingested from; JSON list"
    )
    allow_cwd: bool = Field(
        False,
        description="also the server's working directory (off: an MCP client could load "
        "any CSV/JSON/XML under wherever the server was started)",
    )


def allowed_roots(settings: Settings, ingest: IngestSettings | None = None) -> list[Path]:
    """The folders `ingest_file` reads from: the data dir's uploads and landing folders, the
    configured roots, and the working directory only when configured."""
    ingest = ingest or IngestSettings()
    roots = [settings.data_dir / "uploads", settings.data_dir / "landing", *ingest.roots]
    if ingest.allow_cwd:
        roots.append(Path.cwd())
    return [root.expanduser().resolve() for root in roots]


def _allowed_files(
    settings: Settings, path: str, ingest: IngestSettings | None = None
) -> list[Path]:
    """The file, or the files of a folder, if every one resolves (symlinks followed) inside an
    allowed root: no reading /etc or the data dir's users file through a CSV parser."""
    roots = allowed_roots(settings, ingest)
    resolved = Path(path).expanduser().resolve()

    def inside(file: Path) -> bool:
        return any(file.resolve().is_relative_to(root) for root in roots)

    if not inside(resolved):
        raise ValidationError(
            f"{path} is outside the folders Encore ingests from "
            f"({', '.join(str(r) for r in roots)}); copy it into {roots[0]} "
            "(or add its folder to ENCORE_INGEST_ROOTS)",
            path=path,
        )
    if not resolved.exists():
        raise ValidationError(f"no such file or folder: {path}", path=path)
    if resolved.is_file() and resolved.suffix.lower() not in _FORMATS:
        raise ValidationError(
            f"{resolved.name}: Encore reads {', '.join(sorted(_FORMATS))} files", path=path
        )
    files = expand_inputs([resolved])
    escaping = [f for f in files if not inside(f)]
    if escaping:  # a symlink inside an allowed folder pointing elsewhere
        raise ValidationError(
            f"{escaping[0].name} in {path} links outside the folders Encore ingests from",
            path=str(escaping[0]),
        )
    if not files:
        raise ValidationError(f"no files to ingest in {path}", path=path)
    return files


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

    Only files under the data dir's `uploads` or `landing` folder (or a folder the operator
    configured) can be ingested; others are refused with the folders that are allowed.

    The entity (artists, venues, concerts, ticket_sales, fans, concert_results) is inferred from
    the columns when not given. Bad rows are quarantined with reasons, never dropped.
    """
    _require_writer(ctx)
    inputs = _allowed_files(ctx.settings, path)
    if not confirm:
        what = inputs[0].name if len(inputs) == 1 else f"{len(inputs)} files from {Path(path).name}"
        return TriggerResult(
            status="needs_confirmation",
            message=f"ingest {what} as {entity or 'the entity its columns show'}; "
            "call again with confirm=true to load it",
        )
    outcomes = ingest_files(
        ctx.settings, inputs, entity=entity, source=source or f"upload:{ctx.user}"
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
