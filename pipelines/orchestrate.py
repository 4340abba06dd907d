"""`encore pipeline run`: every source, raw to curated to warehouse to marts, in one go.

Steps run in order and each is independent: a source that is not configured is skipped with
the reason, a source that fails is reported without stopping the others.

    landing files -> stream -> Ticketmaster -> Spotify -> setlist.fm -> quality report

The quality report after a run covers what the run changed (`quality="run"`): the checks that
read a table one of its loads wrote, so a run that loaded nothing runs none and its cost follows
the tables it touched, not the warehouse. `quality="warehouse"` checks everything, as
`encore quality report` does. `timely_quality` runs the checks that time alone can fail (the
freshness of the loads), cheap at any size: what a scheduled run that loaded nothing still checks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import duckdb

from core.errors import EncoreError
from core.settings import Settings
from core.warehouse import connect_reader, connect_writer, reading
from pipelines.ingest import WRITES, FileOutcome, ingest_files
from pipelines.ledger import utc_now
from pipelines.quality import QualityReport, assess

log = logging.getLogger(__name__)

DEFAULT_TICKETMASTER_QUERY: dict[str, Any] = {"classificationName": "music", "countryCode": "US"}

QualityScope = Literal["run", "warehouse"]
QUALITY_SCOPES: Final[tuple[QualityScope, ...]] = ("run", "warehouse")
TIMELY_TABLES: Final = frozenset({"pipeline_runs"})
"""What the checks that time alone can fail read: the run ledger (freshness), a row per run."""


@dataclass
class StepResult:
    """What one step of a pipeline run did."""

    name: str
    status: Literal["done", "skipped", "failed"]
    detail: str = ""
    outcomes: list[FileOutcome] = field(default_factory=list)

    @property
    def records(self) -> tuple[int, int, int]:
        """Records in, accepted and quarantined over the step's runs."""
        runs = [o.run for o in self.outcomes if o.run]
        return (
            sum(r.records_in for r in runs),
            sum(r.accepted for r in runs),
            sum(r.quarantined for r in runs),
        )


def run_pipeline(
    settings: Settings,
    *,
    landing: Path | None = None,
    stream: str = "events",
    use_apis: bool = True,
    on_step: Callable[[StepResult], None] | None = None,
    quality: QualityScope = "run",
) -> tuple[list[StepResult], QualityReport]:
    """Run every step; returns their results and the quality report after them: of the tables
    the run changed (`quality="run"`, none when it loaded nothing) or of the whole warehouse."""
    steps: list[Callable[[], StepResult]] = [
        lambda: _landing(settings, landing or settings.data_dir / "landing"),
        lambda: _stream(settings, stream),
    ]
    if use_apis:
        steps += [
            lambda: _ticketmaster(settings),
            lambda: _spotify(settings),
            lambda: _setlistfm(settings),
        ]
    results = []
    for step in steps:
        result = step()
        results.append(result)
        if on_step:
            on_step(result)
    connect_writer(settings).close()  # the warehouse exists (and is migrated) even if empty
    tables = changed_tables(results) if quality == "run" else None
    if tables == set():
        return results, QualityReport(None, utc_now(), [])
    con = connect_reader(settings)
    try:
        report = assess(con, record_flags=False, tables=tables)
    finally:
        con.close()
    return results, report


def timely_quality(con: duckdb.DuckDBPyConnection) -> QualityReport:
    """The checks that fail with time while nothing arrives (data not loaded for too long),
    which a run that loaded nothing would otherwise skip; they read the ledger, not the data."""
    return assess(con, record_flags=False, tables=TIMELY_TABLES)


def changed_tables(steps: Iterable[StepResult]) -> set[str]:
    """The warehouse tables the steps' loads changed, plus the run ledger when any did (the
    freshness check reads it); empty when nothing was inserted or updated."""
    tables = {
        table
        for step in steps
        for outcome in step.outcomes
        if outcome.status == "succeeded"
        and outcome.run is not None
        and outcome.run.inserted + outcome.run.updated > 0
        for table in WRITES.get(outcome.run.entity or outcome.entity or "", ())
    }
    return tables | {"pipeline_runs"} if tables else tables


def _guarded(name: str, body: Callable[[], StepResult]) -> StepResult:
    try:
        return body()
    except EncoreError as exc:
        log.warning("step %s failed: %s", name, exc)
        return StepResult(name, "failed", str(exc))


def _landing(settings: Settings, folder: Path) -> StepResult:
    def body() -> StepResult:
        folder.mkdir(parents=True, exist_ok=True)
        if not any(p.is_file() for p in folder.rglob("*")):
            return StepResult("files", "skipped", f"no files in {folder}")
        outcomes = ingest_files(settings, [folder], source="landing")
        failed = [o for o in outcomes if o.status == "failed"]
        loaded = sum(o.status == "succeeded" for o in outcomes)
        detail = f"{loaded} loaded, {len(outcomes) - loaded - len(failed)} already loaded"
        if failed:
            detail += f", {len(failed)} failed ({failed[0].path.name}: {failed[0].message})"
        return StepResult("files", "failed" if failed else "done", detail, outcomes)

    return _guarded("files", body)


def _stream(settings: Settings, name: str) -> StepResult:
    def body() -> StepResult:
        from pipelines.stream import StreamRecord, open_stream
        from pipelines.streaming import load_batch

        if settings.stream_kind == "local" and not (settings.data_dir / "stream" / name).exists():
            return StepResult("stream", "skipped", f"no stream {name!r} yet")
        source = open_stream(settings, name, settings.stream_kind, region=settings.aws_region)
        outcomes: list[FileOutcome] = []

        def handle(records: list[StreamRecord]) -> None:
            outcomes.extend(load_batch(settings, records, source=f"stream:{name}"))

        handled = source.consume("warehouse", handle, max_records=5_000, idle_timeout_s=1.0)
        return StepResult("stream", "done", f"{handled:,} records consumed", outcomes)

    return _guarded("stream", body)


def _ticketmaster(settings: Settings) -> StepResult:
    if settings.ticketmaster_api_key is None:
        return StepResult("ticketmaster", "skipped", "set ENCORE_TICKETMASTER_API_KEY to enable")

    def body() -> StepResult:
        from pipelines.api_refresh import refresh_ticketmaster

        outcomes = refresh_ticketmaster(settings, DEFAULT_TICKETMASTER_QUERY)
        return StepResult("ticketmaster", "done", "events, venues and attractions", outcomes)

    return _guarded("ticketmaster", body)


def _spotify(settings: Settings) -> StepResult:
    if settings.spotify_client_id is None or settings.spotify_client_secret is None:
        return StepResult(
            "spotify", "skipped", "set ENCORE_SPOTIFY_CLIENT_ID and _SECRET to enable"
        )

    def body() -> StepResult:
        from pipelines.api_refresh import refresh_spotify

        with reading(settings) as con:
            ids = [r[0] for r in con.execute(
                "SELECT spotify_id FROM artists WHERE spotify_id IS NOT NULL "
                "ORDER BY popularity DESC NULLS LAST LIMIT 500"
            ).fetchall()]  # fmt: skip
        if not ids:
            return StepResult("spotify", "skipped", "no artists with a Spotify id yet")
        outcomes = refresh_spotify(settings, ids)
        return StepResult("spotify", "done", f"{len(ids)} artists refreshed", outcomes)

    return _guarded("spotify", body)


def _setlistfm(settings: Settings) -> StepResult:
    if settings.setlistfm_api_key is None or not settings.setlistfm_artists:
        return StepResult(
            "setlistfm", "skipped", "set ENCORE_SETLISTFM_API_KEY and _ARTISTS (MusicBrainz ids)"
        )

    def body() -> StepResult:
        from pipelines.api_refresh import refresh_setlistfm

        outcomes = refresh_setlistfm(settings, settings.setlistfm_artists)
        detail = f"setlists of {len(settings.setlistfm_artists)} artists as concert listings"
        return StepResult("setlistfm", "done", detail, outcomes)

    return _guarded("setlistfm", body)


SOURCES: dict[str, Callable[[Settings], StepResult]] = {
    "ticketmaster": _ticketmaster,
    "spotify": _spotify,
    "setlistfm": _setlistfm,
}
"""API sources `refresh_source` can run on their own."""


def refresh_source(settings: Settings, source: str) -> StepResult:
    """Run one API source's step (skipped with the reason when it is not configured)."""
    try:
        step = SOURCES[source]
    except KeyError:
        raise EncoreError(
            f"unknown source {source!r}; choose one of {', '.join(SOURCES)}", source=source
        ) from None
    return step(settings)
