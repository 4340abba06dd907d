"""The run ledger: every ingestion recorded for audit and monitoring (requirement 1.5).

A run is written as `running` and committed at once, so it is visible while it works and stays
visible if the process dies; it is finished inside the run's own load transaction.

Times are naive UTC, like every TIMESTAMP in the operations tables (metrics, alerts): a ledger
written on a host in New York reads the same as one written in UTC.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import duckdb

RunStatus = Literal["running", "succeeded", "failed", "skipped"]


@dataclass
class Run:
    """One pipeline run and its counters."""

    run_id: str
    pipeline: str
    source: str
    entity: str | None
    started_at: datetime
    inputs: list[dict[str, Any]] = field(default_factory=list)
    records_in: int = 0
    accepted: int = 0
    quarantined: int = 0
    inserted: int = 0
    updated: int = 0
    attempts: int = 1
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds spent in each step of the run, in the order the steps ran (not persisted)."""

    @property
    def quarantine_rate(self) -> float:
        return self.quarantined / self.records_in if self.records_in else 0.0


def utc_now() -> datetime:
    """The current time as the ledger stores it: naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


def as_ledger_time(moment: datetime) -> datetime:
    """An aware time as naive UTC, to compare with ledger columns (naive times pass unchanged)."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def new_run_id() -> str:
    """Sortable by time (UTC), unique across processes: `20261126T153012-1a2b3c4d`."""
    return f"{utc_now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


class RunLedger:
    """Reads and writes `pipeline_runs` through the caller's connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def start(
        self,
        pipeline: str,
        source: str,
        entity: str | None,
        inputs: list[dict[str, Any]],
        *,
        started_at: datetime | None = None,
    ) -> Run:
        """Record a run as running (committed immediately, outside any load transaction);
        `started_at` (UTC) for a run recorded after the fact, e.g. a step that failed."""
        run = Run(new_run_id(), pipeline, source, entity, started_at or utc_now(), inputs)
        self.con.execute(
            "INSERT INTO pipeline_runs "
            "(run_id, pipeline, source, entity, inputs, started_at, status) "
            "VALUES (?, ?, ?, ?, ?, ?, 'running')",
            [run.run_id, pipeline, source, entity, json.dumps(inputs), run.started_at],
        )
        return run

    def finish(self, run: Run, status: RunStatus, error: str | None = None) -> None:
        """Record the outcome and counters of a run."""
        self.con.execute(
            """UPDATE pipeline_runs SET status = ?, finished_at = ?, error = ?, attempts = ?,
                   records_in = ?, accepted = ?, quarantined = ?, inserted = ?, updated = ?,
                   inputs = ?
               WHERE run_id = ?""",
            [
                status,
                utc_now(),
                error,
                run.attempts,
                run.records_in,
                run.accepted,
                run.quarantined,
                run.inserted,
                run.updated,
                json.dumps(run.inputs),
                run.run_id,
            ],
        )

    def succeeded_with(self, sha256: str, entity: str) -> str | None:
        """The id of an earlier successful run that ingested this exact content as `entity`."""
        row = self.con.execute(
            """SELECT run_id FROM pipeline_runs, unnest(CAST(inputs AS JSON[])) AS t(input)
               WHERE status = 'succeeded' AND entity = ? AND input->>'sha256' = ?
               ORDER BY started_at DESC LIMIT 1""",
            [entity, sha256],
        ).fetchone()
        return str(row[0]) if row else None

    def recent(self, limit: int = 20) -> list[dict[str, Any]]:
        """The latest runs, newest first."""
        cursor = self.con.execute(
            "SELECT * FROM pipeline_runs ORDER BY started_at DESC LIMIT ?", [limit]
        )
        names = [d[0] for d in cursor.description or []]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
