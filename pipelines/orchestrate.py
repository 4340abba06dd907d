"""`encore pipeline run`: every source, raw to curated to warehouse to marts, in one go.

Steps run in order and each is independent: a source that is not configured is skipped with
the reason, a source that fails is reported without stopping the others.

    landing files -> stream -> Ticketmaster -> Spotify -> setlist.fm -> quality report

The quality report after a run covers what the run changed (`quality="run"`): the checks that
read a table one of its loads wrote, so a run that loaded nothing runs none and its cost follows
the tables it touched, not the warehouse. `quality="warehouse"` checks everything, as
`encore quality report` does. `timely_quality` runs the checks that time alone can fail (the
freshness of the loads), cheap at any size: what a run that loaded nothing still checks, since
data goes stale while nothing arrives.

A step that fails is logged and alerted (requirements 1.5, 2.5, 5.3). A failed load is its
ingest run's to record; a step that fails before any load (an API still failing after its
retries, a stream or landing folder it cannot read) gets a ledger run of its own, pipeline
`run` and source the step, failed with the error, whose metrics go through the pipelines' alert
rules (`run:<step>`: `run_failed`, `retries_exhausted`). The alert stays open while the step
keeps failing and is resolved by the first run in which it succeeds. The scheduler alerts its
failing inputs itself, so it passes `alert=False`: its steps are recorded, not alerted twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import duckdb

from core.errors import EncoreError
from core.settings import Settings
from core.warehouse import connect_reader, connect_writer, reading
from pipelines.ingest import WRITES, FileOutcome, ingest_files
from pipelines.ledger import RunLedger, utc_now
from pipelines.monitoring import (
    DEFAULT_RULES,
    LocalMonitor,
    fingerprint_for,
    open_monitor,
    record_run,
)
from pipelines.quality import QualityReport, assess

log = logging.getLogger(__name__)

DEFAULT_TICKETMASTER_QUERY: dict[str, Any] = {"classificationName": "music", "countryCode": "US"}

QualityScope = Literal["run", "warehouse"]
QUALITY_SCOPES: Final[tuple[QualityScope, ...]] = ("run", "warehouse")
TIMELY_TABLES: Final = frozenset({"pipeline_runs"})
"""What the checks that time alone can fail read: the run ledger (freshness), a row per run."""
STEP_PIPELINE: Final = "run"
"""The ledger's `pipeline` of a step's own run (a step that failed before any load)."""
_STEP_METRICS: Final = ("run_failed", "retries_exhausted")
"""The metrics of a failed step's run that the rules alert on, which its recovery resolves."""


@dataclass
class StepResult:
    """What one step of a pipeline run did."""

    name: str
    status: Literal["done", "skipped", "failed"]
    detail: str = ""
    outcomes: list[FileOutcome] = field(default_factory=list)
    attempts: int = 1
    """How often the failing call was tried: an API retries transient failures."""
    failure: dict[str, Any] = field(default_factory=dict)
    """What the error said about the failing call (reason, URL with secrets redacted, status)."""
    seconds: float = 0.0
    run_id: str | None = None
    """The step's own ledger run, written when it failed without a load run saying why."""
    alerts: list[str] = field(default_factory=list)
    """The ids of the alerts its failure raised or kept open."""

    @property
    def failed_unrecorded(self) -> bool:
        """Failed, and no load of its own recorded the failure (the fetch or the step broke)."""
        return self.status == "failed" and not any(
            o.status == "failed" and o.run is not None for o in self.outcomes
        )

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
    alert: bool = True,
) -> tuple[list[StepResult], QualityReport]:
    """Run every step; returns their results and the quality report after them: of the tables
    the run changed (`quality="run"`; when it loaded nothing, the freshness of the loads) or of
    the whole warehouse. A failed step is recorded and, unless `alert` is off, alerted."""
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
        result = _timed(step)
        if result.failed_unrecorded:
            record_failure(settings, result, alert=alert)
        results.append(result)
        if on_step:
            on_step(result)
    con = connect_writer(settings)  # the warehouse exists (and is migrated) even if empty
    try:
        resolve_recovered(settings, con, results)
        tables = changed_tables(results) if quality == "run" else None
        if tables == set():  # nothing loaded, but the data goes stale while nothing arrives
            return results, timely_quality(con)
    finally:
        con.close()
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


def record_failure(settings: Settings, step: StepResult, *, alert: bool = True) -> None:
    """Write the failed step's own ledger run and its metrics, alerting through the pipelines'
    rules unless `alert` is off; sets the step's `run_id` and `alerts`. A warehouse that cannot
    be opened is logged: the failure is still the step's, reported by the caller."""
    try:
        con = connect_writer(settings)
    except EncoreError as exc:
        log.error("cannot record the failed step %s (%s): %s", step.name, step.detail, exc)
        return
    try:
        ledger = RunLedger(con)
        started = utc_now() - dt.timedelta(seconds=step.seconds)  # it is recorded once over
        run = ledger.start(
            STEP_PIPELINE, step.name, None, [{"step": step.name, **step.failure}],
            started_at=started,
        )  # fmt: skip
        run.attempts = step.attempts
        ledger.finish(run, "failed", error=step.detail)
        step.run_id = run.run_id
        metrics = {
            "duration_s": step.seconds,
            "run_failed": 1.0,
            "retries_exhausted": float(step.attempts > 1),
        }
        step.alerts = record_run(
            open_monitor(settings, con), metrics, run_id=run.run_id,
            source=_alert_source(step.name), dimensions=_dimensions(step.name),
            rules=DEFAULT_RULES if alert else (),
        )  # fmt: skip
    except EncoreError as exc:
        log.error("cannot record the failed step %s (%s): %s", step.name, step.detail, exc)
    finally:
        con.close()


def resolve_recovered(
    settings: Settings, con: duckdb.DuckDBPyConnection, steps: Iterable[StepResult]
) -> list[str]:
    """Resolve the open alerts of steps that failed on their own before and did not now (a load
    that failed is its ingest run's to alert); returns their ids. Only reads unless such a step
    has an open alert (the monitor is opened for those only)."""
    alerting = {a.source for a in LocalMonitor(con).open_alerts()}
    resolved: list[str] = []
    for step in steps:
        source = _alert_source(step.name)
        if step.status == "skipped" or step.failed_unrecorded or source not in alerting:
            continue
        runs = [o.run.run_id for o in step.outcomes if o.run is not None]
        fingerprints = {fingerprint_for(source, metric, _dimensions(step.name))
                        for metric in _STEP_METRICS}  # fmt: skip
        resolved += open_monitor(settings, con).resolve(
            *sorted(fingerprints), run_id=runs[0] if runs else None
        )
    return resolved


def _alert_source(step: str) -> str:
    return f"{STEP_PIPELINE}:{step}"


def _dimensions(step: str) -> dict[str, str]:
    return {"pipeline": STEP_PIPELINE, "step": step}


def _timed(step: Callable[[], StepResult]) -> StepResult:
    started = time.perf_counter()
    result = step()
    result.seconds = time.perf_counter() - started
    return result


def _loaded(name: str, detail: str, outcomes: list[FileOutcome]) -> StepResult:
    """A step that fetched and loaded: failed when one of its loads failed (each recorded and
    alerted by its ingest run)."""
    failed = [o for o in outcomes if o.status == "failed"]
    if not failed:
        return StepResult(name, "done", detail, outcomes)
    first = failed[0]
    detail += f"; {len(failed)} load(s) failed ({first.entity or '?'}: {first.message})"
    return StepResult(name, "failed", detail, outcomes)


_FAILURE_KEYS: Final = ("reason", "source", "url", "status", "path")
"""What of an error's detail a failed step's ledger run keeps (`SourceError`: URL redacted)."""


def _guarded(name: str, body: Callable[[], StepResult]) -> StepResult:
    try:
        return body()
    except EncoreError as exc:
        log.warning("step %s failed: %s", name, exc)
        attempts = exc.detail.get("attempts")
        failure = {k: v if isinstance(v, int | str) else str(v)
                   for k in _FAILURE_KEYS if (v := exc.detail.get(k)) is not None}  # fmt: skip
        return StepResult(name, "failed", str(exc), attempts=int(attempts or 1), failure=failure)


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
        return _loaded("stream", f"{handled:,} records consumed", outcomes)

    return _guarded("stream", body)


def _ticketmaster(settings: Settings) -> StepResult:
    if settings.ticketmaster_api_key is None:
        return StepResult("ticketmaster", "skipped", "set ENCORE_TICKETMASTER_API_KEY to enable")

    def body() -> StepResult:
        from pipelines.api_refresh import refresh_ticketmaster

        refresh = refresh_ticketmaster(settings, DEFAULT_TICKETMASTER_QUERY)
        detail = "; ".join(filter(None, ["events, venues and attractions", refresh.note]))
        return _loaded("ticketmaster", detail, refresh.outcomes)

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
        return _loaded("spotify", f"{len(ids)} artists refreshed", outcomes)

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
        return _loaded("setlistfm", detail, outcomes)

    return _guarded("setlistfm", body)


SOURCES: dict[str, Callable[[Settings], StepResult]] = {
    "ticketmaster": _ticketmaster,
    "spotify": _spotify,
    "setlistfm": _setlistfm,
}
"""API sources `refresh_source` can run on their own."""


def refresh_source(settings: Settings, source: str) -> StepResult:
    """Run one API source's step (skipped with the reason when it is not configured); a failure
    is recorded and alerted as in a pipeline run, a success resolves its open alerts."""
    try:
        step = SOURCES[source]
    except KeyError:
        raise EncoreError(
            f"unknown source {source!r}; choose one of {', '.join(SOURCES)}", source=source
        ) from None
    result = _timed(lambda: step(settings))
    if result.failed_unrecorded:
        record_failure(settings, result)
    elif result.status == "done":
        con = connect_writer(settings)
        try:
            resolve_recovered(settings, con, [result])
        finally:
            con.close()
    return result
