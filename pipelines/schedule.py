"""`encore pipeline schedule`: the pipeline on a timer, then a refresh of what depends on the data.

    trigger (interval | cron) -> tick: run_pipeline -> stale refreshers -> refresh each -> record

A tick is one `run_pipeline` (landing files, stream, APIs; the marts are refreshed inside each
load), recorded in the run ledger as pipeline `schedule`. Then every `Refresher` whose input data
changed since it was last refreshed or built is run, recommender first: requirement 3.3 wants
recommendations refreshed within 30 minutes of new data. "Changed" is read from the ledger (loads
that inserted or updated rows) and `warehouse_builds`, so data loaded by `encore ingest` or a
stream consumer between ticks counts too, and a tick that loads nothing retrains nothing.

Each refresh is a ledger run (pipeline `refresh`, source = its name) with metrics `duration_s` and
`freshness_lag_s` (from the oldest new data to the end of the refresh); a lag over 30 minutes
raises a warning. A failed tick or refresh is logged, recorded and alerted through
`pipelines.monitoring`, and the schedule goes on (a step that failed before loading anything,
e.g. an API still failing after its retries, also has a ledger run of its own, alerted here per
input rather than by `run_pipeline`); a refresher that cannot build from the data yet
(`ConfigError`, e.g. no ticket sales) is recorded as skipped and waits for the next load.

Alerts follow the inputs, not the ticks: an input (a landing file, the stream, an API, a
refresher) that starts failing raises one critical alert, which stays open while it keeps failing
(its count and last-seen time go up, one alert instead of one per tick) and is resolved by the
first tick in which that input no longer fails. Every tick, idle or not, also checks that the
loads are fresh: data not loaded for a week keeps one warning open until a load brings it up to
date (nothing arriving is a problem too).

APScheduler fires the ticks: at most one at a time (`max_instances=1`, plus a lock for direct
calls), missed firings coalesced into one, and a file lock keeps a second scheduler off the same
data directory.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from core.errors import ConfigError, EncoreError
from core.schemas import ENTITY_SCHEMAS
from core.settings import Settings

# The root CLI imports this module at start (for `Refresher`) and `encore --help` must stay fast,
# so DuckDB, the ledger, monitoring and the pipeline load on the first run, not here.
if TYPE_CHECKING:
    import duckdb

    from pipelines.ledger import Run, RunStatus
    from pipelines.monitoring import AlertRule, Monitor
    from pipelines.orchestrate import StepResult

log = logging.getLogger(__name__)

FRESHNESS_BUDGET_S: Final = 1800.0
"""Requirement 3.3: recommendations refreshed within 30 minutes of new data."""
DEFAULT_EVERY: Final = "15m"
"""Half the freshness budget: new data waits at most 15 minutes, leaving 15 for the refresh."""

ALL_ENTITIES: Final = frozenset(ENTITY_SCHEMAS)
_LEDGER_STATUS: Final[dict[str, RunStatus]] = {
    "done": "succeeded",
    "skipped": "skipped",
    "failed": "failed",
}

INPUT_ALERT_PREFIX: Final = "schedule input "
"""Fingerprint prefix of the scheduler's per-input alerts (`schedule input files:bad.csv`)."""

_EVERY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)\s*$", re.IGNORECASE)
_UNIT_SECONDS: Final = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def _never(_: Settings) -> datetime | None:
    return None


@functools.cache
def refresh_rules() -> tuple[AlertRule, ...]:
    """The rules scheduled runs and refreshes are checked against: the pipelines' own, plus
    requirement 3.3's freshness budget."""
    from pipelines.monitoring import DEFAULT_RULES, AlertRule

    return (
        *DEFAULT_RULES,
        AlertRule(
            metric="freshness_lag_s",
            op=">",
            threshold=FRESHNESS_BUDGET_S,
            severity="warning",
            message="refreshed {value:.0f} s after new data arrived, over the {threshold:.0f} s "
            "of requirement 3.3; schedule runs more often",
        ),
    )


@functools.cache
def tick_rules() -> tuple[AlertRule, ...]:
    """The rules a tick's own metrics are checked against: a failed tick is alerted per failing
    input instead (`input_alerts`), so `run_failed` is left out here; data not loaded for a week
    (the quality report's freshness check) warns until a load brings it up to date."""
    from pipelines.monitoring import AlertRule

    return (
        *(rule for rule in refresh_rules() if rule.metric != "run_failed"),
        AlertRule(
            metric="stale_entities",
            op=">=",
            threshold=1,
            severity="warning",
            message="{value:.0f} kind(s) of data not loaded for 7 days; are the sources still "
            "delivering? (`encore quality report` names them)",
        ),
    )


@dataclass(frozen=True)
class Refresher:
    """Something built from warehouse data, rebuilt when its input data changed.

    `depends_on` names the entities (as in `pipeline_runs.entity`) whose loads make it stale;
    `last_built` tells when it was last built outside the scheduler (e.g. `encore train`), as an
    aware datetime or None.
    """

    name: str
    refresh: Callable[[Settings], object]
    depends_on: frozenset[str] = ALL_ENTITIES
    last_built: Callable[[Settings], datetime | None] = _never


@dataclass(frozen=True)
class Pending:
    """A refresher with unrefreshed data: since when (ledger time, naive UTC) and how many
    loads."""

    refresher: Refresher
    since: datetime
    loads: int


@dataclass
class RefreshResult:
    """One refresh: how long it took and how long after the new data it finished."""

    name: str
    status: Literal["done", "skipped", "failed"]
    seconds: float
    lag_s: float
    run_id: str | None = None
    detail: str = ""
    served_changed: bool | None = None
    """Whether the refresh changed the served model (None: the refresher does not say). A model
    trained but kept out by its champion gate is `done` with False: nothing new is served."""


@dataclass
class Tick:
    """One scheduled run: the pipeline's steps and the refreshes after it."""

    number: int
    started_at: datetime  # aware, UTC
    status: Literal["succeeded", "failed", "skipped"] = "succeeded"
    seconds: float = 0.0
    run_id: str | None = None
    steps: list[StepResult] = field(default_factory=list)
    refreshes: list[RefreshResult] = field(default_factory=list)
    quality_failures: int = 0
    """Quality checks over their limit, of the tables the tick's loads changed (when it loaded
    nothing, only the freshness of the loads): the warehouse's older problems are `encore quality
    report`'s."""
    stale_entities: int | None = None
    """Kinds of data whose last load is older than the freshness check allows (None: not
    checked, the tick broke first)."""
    error: str | None = None
    crash: str | None = None
    """What broke the tick itself (not one of its inputs), e.g. a warehouse it could not open."""

    @property
    def records(self) -> tuple[int, int, int]:
        """Records in, accepted and quarantined over every step."""
        totals = [s.records for s in self.steps]
        return (sum(t[0] for t in totals), sum(t[1] for t in totals), sum(t[2] for t in totals))


def parse_every(text: str) -> timedelta:
    """`30s`, `15m`, `2h` or `1d` as a timedelta (at least one second)."""
    match = _EVERY.match(text)
    if match is None:
        raise ConfigError(f"cannot read the interval {text!r}; write e.g. 30s, 15m or 2h")
    every = timedelta(seconds=float(match[1]) * _UNIT_SECONDS[match[2].lower()])
    if every < timedelta(seconds=1):
        raise ConfigError(f"the interval {text!r} is under one second")
    return every


def build_trigger(every: str | None = None, cron: str | None = None) -> Any:
    """An APScheduler trigger: every `every` (default 15 minutes) or on a crontab line."""
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    if every is not None and cron is not None:
        raise ConfigError("give --every or --cron, not both")
    if cron is not None:
        try:
            return CronTrigger.from_crontab(cron)
        except ValueError as exc:
            raise ConfigError(
                f"cannot read the cron line {cron!r}: {exc}; five fields, e.g. '*/15 * * * *'",
                cron=cron,
            ) from exc
    return IntervalTrigger(seconds=parse_every(every or DEFAULT_EVERY).total_seconds())


def pending_refreshes(
    settings: Settings, con: duckdb.DuckDBPyConnection, refreshers: Sequence[Refresher]
) -> list[Pending]:
    """The refreshers whose input data changed since they were last refreshed or built."""
    pending = []
    for refresher in refreshers:
        watermark = _watermark(settings, con, refresher)
        entities = sorted(refresher.depends_on)
        # entity NULL is a run that loaded several entities: it may touch any refresher
        row = con.execute(
            "SELECT min(finished_at), count(*) FROM pipeline_runs "
            "WHERE status = 'succeeded' AND pipeline NOT IN ('schedule', 'refresh') "
            "AND inserted + updated > 0 AND finished_at > ? "
            "AND (entity IS NULL OR list_contains(?, entity))",
            [watermark, entities],
        ).fetchone()
        build = con.execute(
            "SELECT min(built_at), count(*) FROM warehouse_builds WHERE built_at > ?", [watermark]
        ).fetchone()
        changes = [r for r in (row, build) if r is not None and r[0] is not None]
        if changes:
            since = min(r[0] for r in changes)
            pending.append(Pending(refresher, since, sum(int(r[1]) for r in changes)))
    return pending


def _watermark(
    settings: Settings, con: duckdb.DuckDBPyConnection, refresher: Refresher
) -> datetime:
    """When the refresher last saw the data: its last refresh (done, or skipped as not yet
    buildable) or its last build.

    Both count: a retrained model that was not promoted keeps the champion's older build time,
    and a model trained by hand has no refresh run. A failed refresh does not count: the next
    run tries again.
    """
    row = con.execute(
        "SELECT max(started_at) FROM pipeline_runs "
        "WHERE pipeline = 'refresh' AND source = ? AND status IN ('succeeded', 'skipped')",
        [refresher.name],
    ).fetchone()
    from pipelines.ledger import as_ledger_time

    marks = [row[0]] if row and row[0] else []
    built = refresher.last_built(settings)
    if built is not None:
        marks.append(as_ledger_time(built))
    return max(marks, default=datetime.min)


@contextmanager
def exclusive(settings: Settings) -> Iterator[None]:
    """Hold the data directory's scheduler lock; a second scheduler there gets a ConfigError."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = settings.data_dir / ".schedule.lock"
    try:
        import fcntl
    except ImportError:  # no advisory locks on this platform: runs are still serial in-process
        yield
        return
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(
                f"another `encore pipeline schedule` is running on {settings.data_dir}; "
                "stop it first (one scheduler per data directory)",
                lock=str(path),
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class PipelineScheduler:
    """Runs ticks on demand (`tick`) or on a trigger (`serve`); never two at once."""

    def __init__(
        self,
        settings: Settings,
        *,
        landing: Path | None = None,
        stream: str = "events",
        use_apis: bool = True,
        refreshers: Sequence[Refresher] = (),
        on_tick: Callable[[Tick], None] | None = None,
    ) -> None:
        self.settings = settings
        self.landing = landing
        self.stream = stream
        self.use_apis = use_apis
        self.refreshers = tuple(refreshers)
        self.on_tick = on_tick
        self.ticks: list[Tick] = []
        self.overlaps = 0
        """Firings dropped because the previous tick was still running."""
        self._running = threading.Lock()
        self._count = threading.Lock()
        self._started = 0

    def tick(self) -> Tick:
        """Run the pipeline once, refresh what its new data made stale, record it all."""
        with self._count:
            self._started += 1
            tick = Tick(self._started, datetime.now(UTC))
        if not self._running.acquire(blocking=False):
            tick.status, tick.error = "skipped", "the previous run is still going"
            self.overlaps += 1
            return self._done(tick)
        try:
            self._run(tick)
        finally:
            self._running.release()
        return self._done(tick)

    def serve(
        self,
        trigger: Any,
        *,
        max_runs: int | None = None,
        stop: threading.Event | None = None,
        run_now: bool = True,
        misfire_grace_s: int = 60,
    ) -> list[Tick]:
        """Tick on `trigger` until `stop` is set or `max_runs` ticks finished; returns the ticks.

        The current tick always finishes before this returns (a tick stopped half-way would
        leave a refresh unrecorded). `run_now` starts the first tick at once.
        """
        from apscheduler.events import EVENT_JOB_MAX_INSTANCES
        from apscheduler.schedulers.background import BackgroundScheduler

        stop = stop or threading.Event()
        scheduler = BackgroundScheduler(
            job_defaults={
                "max_instances": 1,  # never two ticks at once
                "coalesce": True,  # a backlog of missed firings (sleep, a long tick) runs once
                "misfire_grace_time": misfire_grace_s,
            }
        )

        ran = 0  # by this job only (APScheduler runs one at a time): skipped ticks do not count

        def job() -> None:
            nonlocal ran
            if max_runs is not None and ran >= max_runs:
                return
            if self.tick().status != "skipped":
                ran += 1
            if max_runs is not None and ran >= max_runs:
                stop.set()

        def overlapped(_: object) -> None:
            self.overlaps += 1
            log.info("a scheduled run was skipped: the previous one is still going")

        scheduler.add_listener(overlapped, EVENT_JOB_MAX_INSTANCES)
        extra = {"next_run_time": datetime.now(UTC)} if run_now else {}
        scheduler.add_job(job, trigger, id="encore-pipeline", name="encore pipeline", **extra)
        with exclusive(self.settings):
            scheduler.start()
            try:
                while not stop.wait(0.2):  # short waits: signal handlers run between them
                    pass
            finally:
                scheduler.shutdown(wait=True)  # lets the running tick finish
        return list(self.ticks)

    def _done(self, tick: Tick) -> Tick:
        self.ticks.append(tick)
        if self.on_tick:
            self.on_tick(tick)
        return tick

    def _run(self, tick: Tick) -> None:
        from core.warehouse import connect_writer
        from pipelines.orchestrate import run_pipeline

        started = time.perf_counter()
        run: Run | None = None
        try:
            run = self._start_run()
            tick.run_id = run.run_id
            # the failing inputs are alerted per input below (`input_alerts`), not per step
            tick.steps, report = run_pipeline(self.settings, landing=self.landing,
                                              stream=self.stream, use_apis=self.use_apis,
                                              alert=False)  # fmt: skip
            con = connect_writer(self.settings)
            try:
                pending = pending_refreshes(self.settings, con, self.refreshers)
            finally:
                con.close()
            tick.quality_failures = sum(not r.passed for r in report.results)
            tick.stale_entities = sum(r.flagged for r in report.results
                                      if r.dimension == "freshness")  # fmt: skip
            errors = [f"{s.name}: {s.detail}" for s in tick.steps if s.status == "failed"]
            tick.refreshes = [self._refresh_one(p) for p in pending]
            errors += [f"refresh {r.name}: {r.detail}" for r in tick.refreshes
                       if r.status == "failed"]  # fmt: skip
        # A scheduler outlives any one run: whatever broke is recorded and alerted, and the next
        # firing tries again (this is the loop's edge, like an entrypoint).
        except Exception as exc:
            log.exception("scheduled run %d failed", tick.number)
            tick.crash = f"{type(exc).__name__}: {exc}"
            errors = [tick.crash]
        if errors:
            tick.status, tick.error = "failed", "; ".join(errors)
        tick.seconds = time.perf_counter() - started
        self._finish_run(run, tick)

    def _start_run(self) -> Run:
        from core.warehouse import connect_writer
        from pipelines.ledger import RunLedger

        inputs = [{"landing": str(self.landing or self.settings.data_dir / "landing"),
                   "stream": self.stream, "apis": self.use_apis}]  # fmt: skip
        con = connect_writer(self.settings)
        try:
            return RunLedger(con).start("schedule", "scheduler", None, inputs)
        finally:
            con.close()

    def _finish_run(self, run: Run | None, tick: Tick) -> None:
        if run is None:
            return  # the warehouse could not even be opened: logged above, nothing to record in
        run.records_in, run.accepted, run.quarantined = tick.records
        metrics = {
            "duration_s": tick.seconds,
            "run_failed": float(tick.status == "failed"),
            "records_in": run.records_in,
            "accepted": run.accepted,
            "quality_failed_checks": tick.quality_failures,
            "models_refreshed": sum(
                r.status == "done" and r.served_changed is not False for r in tick.refreshes
            ),
        }
        if tick.stale_entities is not None:
            metrics["stale_entities"] = tick.stale_entities
        self._record(run, "succeeded" if tick.status != "failed" else "failed", tick.error,
                     metrics, source="schedule", dimensions={"pipeline": "schedule"},
                     rules=tick_rules(),
                     then=lambda monitor: input_alerts(monitor, tick))  # fmt: skip

    def _refresh_one(self, pending: Pending) -> RefreshResult:
        from core.warehouse import connect_writer
        from pipelines.ledger import RunLedger, utc_now

        name = pending.refresher.name
        inputs = [{"new_data_since": pending.since.isoformat(), "loads": pending.loads}]
        con = connect_writer(self.settings)
        try:
            run = RunLedger(con).start("refresh", name, None, inputs)
        finally:
            con.close()  # the refresh reads the warehouse itself
        started = time.perf_counter()
        status: Literal["done", "skipped", "failed"] = "done"
        detail = f"{pending.loads} load(s) since {pending.since:%H:%M:%S}"
        served_changed: bool | None = None
        try:
            outcome = pending.refresher.refresh(self.settings)
            if isinstance(outcome, Mapping) and isinstance(outcome.get("summary"), str):
                detail = f"{outcome['summary']}; {detail}"
                served = outcome.get("served_changed")
                served_changed = served if isinstance(served, bool) else None
        except ConfigError as exc:
            # not buildable from this data yet (e.g. no ticket sales for the recommender): not an
            # incident to alert on at every run; the next load that touches its data tries again
            log.warning("skipped refreshing %s: %s", name, exc)
            status, detail = "skipped", str(exc)
        # a refresher is code from above (models): any failure is its own, recorded and alerted,
        # and the other refreshers still run
        except Exception as exc:
            log.exception("refreshing %s failed", name)
            status, detail = "failed", f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - started
        lag_s = (utc_now() - pending.since).total_seconds()
        metrics = {"duration_s": seconds, "run_failed": float(status == "failed")}
        if served_changed is not None:
            metrics["model_changed"] = float(served_changed)
        # the lag of requirement 3.3 exists only once the served model is rebuilt
        if status == "done" and served_changed is not False:
            metrics["freshness_lag_s"] = lag_s
        self._record(
            run,
            _LEDGER_STATUS[status],
            # a model trained but not served: the ledger row says why (`pipeline status`)
            None if status == "done" and served_changed is not False else detail,
            metrics,
            source=f"refresh:{name}",
            dimensions={"pipeline": "refresh", "model": name},
        )
        log.info("refresh of %s %s in %.1fs, %.0fs after new data", name, status, seconds, lag_s)
        return RefreshResult(name, status, seconds, lag_s, run.run_id, detail, served_changed)

    def _record(
        self,
        run: Run,
        status: RunStatus,
        error: str | None,
        metrics: dict[str, float],
        *,
        source: str,
        dimensions: dict[str, str],
        rules: tuple[AlertRule, ...] | None = None,
        then: Callable[[Monitor], object] | None = None,
    ) -> None:
        from core.warehouse import connect_writer
        from pipelines.ledger import RunLedger
        from pipelines.monitoring import open_monitor, record_run

        try:
            con = connect_writer(self.settings)
        except EncoreError as exc:
            log.error("cannot record run %s (%s): %s", run.run_id, status, exc)
            return
        try:
            RunLedger(con).finish(run, status, error=error)
            monitor = open_monitor(self.settings, con)
            record_run(monitor, metrics, run_id=run.run_id, source=source,
                       dimensions=dimensions, rules=rules or refresh_rules())  # fmt: skip
            if then is not None:
                then(monitor)
        except EncoreError as exc:
            log.error("cannot record run %s (%s): %s", run.run_id, status, exc)
        finally:
            con.close()


def failing_inputs(tick: Tick) -> dict[str, str]:
    """The inputs that failed in a tick, by name (`files:<file>`, `stream`, `ticketmaster`, ...,
    `pipeline` when the tick itself broke), each with what went wrong. Refreshes are left out:
    each is a run of its own, alerted by its rules under `refresh:<name>`."""
    failing: dict[str, str] = {}
    for step in tick.steps:
        if step.status != "failed":
            continue
        # a landing file keeps its name from tick to tick; an API response or stream batch is
        # loaded from a file named afresh each time, so those alert as their step
        files = [o for o in step.outcomes if o.status == "failed"] if step.name == "files" else []
        for outcome in files:
            failing[f"{step.name}:{outcome.path.name}"] = outcome.message or "failed"
        if not files:
            failing[step.name] = step.detail or "failed"
    if tick.crash:
        failing["pipeline"] = tick.crash
    return failing


def input_alerts(monitor: Monitor, tick: Tick) -> tuple[list[str], list[str]]:
    """Alert each failing input once (a repeat updates its open alert) and resolve the open alerts
    of inputs that no longer fail; returns (alerted, resolved) alert ids.

    Nothing is resolved by a tick that broke before its steps ran: it saw none of the inputs.
    """
    failing = failing_inputs(tick)
    alerted = []
    for name, detail in failing.items():
        alerted.append(
            monitor.alert("critical", "schedule", f"input {name} failed: {detail}",
                          run_id=tick.run_id, details={"input": name, "tick": tick.number},
                          fingerprint=INPUT_ALERT_PREFIX + name)
        )  # fmt: skip
    recovered = [
        alert.fingerprint
        for alert in monitor.open_alerts("schedule")
        if alert.fingerprint
        and alert.fingerprint.startswith(INPUT_ALERT_PREFIX)
        and alert.fingerprint.removeprefix(INPUT_ALERT_PREFIX) not in failing
        and (tick.steps or alert.fingerprint == INPUT_ALERT_PREFIX + "pipeline")
    ]
    resolved = monitor.resolve(*recovered, run_id=tick.run_id) if recovered else []
    return alerted, resolved


def recent_refreshes(con: duckdb.DuckDBPyConnection, limit: int = 10) -> list[dict[str, Any]]:
    """The latest refreshes, newest first: model, when, seconds, status, lag from new data."""
    cursor = con.execute(
        """SELECT r.run_id, r.source AS model, r.started_at, r.finished_at, r.status, r.error,
                  epoch(r.finished_at - r.started_at) AS seconds,
                  (SELECT max(m.value) FROM pipeline_metrics m
                   WHERE m.run_id = r.run_id AND m.name = 'freshness_lag_s') AS lag_s
           FROM pipeline_runs r WHERE r.pipeline = 'refresh'
           ORDER BY r.started_at DESC LIMIT ?""",
        [limit],
    )
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
