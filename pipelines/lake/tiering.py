"""Lake tiering by age and access (requirement 7.5): hot, cold and expired raw partitions.

The local lake has three tiers:
    hot   curated/... (always) and raw/source=<s>/dt=<d>/ of the last `hot_days` days, plus any
          raw partition the lake engine read in the last `read_keeps_hot_days` days
    cold  cold/raw/source=<s>/dt=<d>/<tier run>.parquet: an older raw partition's files packed
          into one zstd Parquet file (name, bytes, sha256, content), exact bytes kept
    gone  raw partitions older than `raw_expiry_days`, when that is set; curated data never
          expires and quarantine is never touched

`plan` decides, `apply` moves (verified by hash before the hot copy is deleted, so a crash at any
point loses nothing and a rerun finishes the job), then the catalog's raw entries are set from
what is on disk and the run is written to the ledger. A run (not a dry run) also prunes the lake's
access log of reads older than `read_keeps_hot_days`: no plan can use them any more. On S3 the
same intent is a set of lifecycle rules (`pipelines/lake/lifecycle.py`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import SourceError
from core.settings import Settings
from pipelines.lake.access import last_reads, prune_reads

log = logging.getLogger(__name__)

COLD = "cold"
COLD_SCHEMA = pa.schema(
    [("name", pa.string()), ("bytes", pa.int64()), ("sha256", pa.string()),
     ("content", pa.binary())]
)  # fmt: skip
_PARTITION = re.compile(r"^dt=(\d{4}-\d{2}-\d{2})$")

Action = Literal["cold", "expire", "hot (read)"]


class TierPolicy(BaseSettings):
    """How the lake is tiered; each field reads `ENCORE_LAKE_<FIELD>` (built by entrypoints)."""

    model_config = SettingsConfigDict(env_prefix="ENCORE_LAKE_", env_file=".env", extra="ignore")

    hot_days: int = Field(30, ge=0, description="raw partitions younger than this stay hot")
    read_keeps_hot_days: int = Field(
        30, ge=0, description="a raw partition the lake engine read this recently stays hot"
    )
    raw_expiry_days: int | None = Field(
        None, ge=1, description="raw partitions older than this are deleted; unset: kept"
    )
    quarantine_expiry_days: int | None = Field(
        None, ge=1, description="S3: quarantine/ objects expire after this; unset: kept"
    )
    ia_days: int = Field(30, ge=30, description="S3: raw/ moves to STANDARD_IA after this")
    glacier_days: int = Field(90, ge=1, description="S3: raw/ moves to GLACIER_IR after this")
    multipart_abort_days: int = Field(7, ge=1, description="S3: incomplete uploads aborted")


@dataclass
class PartitionPlan:
    """What tiering does (or would do) with one raw partition."""

    source: str
    day: date
    tier: Literal["hot", "cold"]  # where it is now
    action: Action
    why: str
    files: int = 0
    bytes_before: int = 0
    bytes_after: int | None = None  # known once applied

    @property
    def dataset(self) -> str:
        return f"raw/{self.source}"

    @property
    def partition(self) -> str:
        return f"dt={self.day.isoformat()}"


@dataclass
class TierReport:
    """One tiering run: the partitions it touched and whether it changed anything."""

    run_id: str | None
    dry_run: bool
    partitions: list[PartitionPlan] = field(default_factory=list)
    reads_pruned: int = 0
    """Access-log entries deleted as older than the read window."""

    def count(self, action: Action) -> int:
        return sum(1 for p in self.partitions if p.action == action)


def _partitions(root: Path) -> list[tuple[str, date, Path]]:
    """(source, day, folder) of every `source=<s>/dt=<d>/` folder under `root`."""
    found = []
    for source_dir in sorted(root.glob("source=*")):
        for day_dir in sorted(source_dir.glob("dt=*")):
            match = _PARTITION.match(day_dir.name)
            if day_dir.is_dir() and match:
                source = source_dir.name.split("=", 1)[1]
                found.append((source, date.fromisoformat(match[1]), day_dir))
    return found


def _files(folder: Path) -> list[Path]:
    # dotfiles are objects still being written (`.<name>.partial`): never pack or delete them
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def _size(folder: Path) -> tuple[int, int]:
    files = _files(folder)
    return len(files), sum(p.stat().st_size for p in files)


def plan(settings: Settings, policy: TierPolicy, today: date | None = None) -> list[PartitionPlan]:
    """The partitions to move to cold, expire or keep hot because they were read (no changes)."""
    today = today or date.today()
    lake = settings.lake_dir
    reads = last_reads(settings)
    read_since = _read_window_start(policy)
    expire_before = (
        today - timedelta(days=policy.raw_expiry_days) if policy.raw_expiry_days else None
    )
    hot_before = today - timedelta(days=policy.hot_days)
    plans = []
    for tier, root in (("hot", lake / "raw"), ("cold", lake / COLD / "raw")):
        for source, day, folder in _partitions(root):
            files, size = _size(folder)
            step = PartitionPlan(source, day, tier, "cold", "", files, size)  # type: ignore[arg-type]
            last = reads.get((step.dataset, step.partition))
            if expire_before is not None and day < expire_before:
                # retention is a rule, not a performance choice: reads do not postpone it
                step.action, step.why = "expire", f"older than {policy.raw_expiry_days} days"
            elif tier == "cold" or day >= hot_before:
                continue
            elif last is not None and last >= read_since:
                step.action = "hot (read)"
                step.why = f"read {last:%Y-%m-%d %H:%M} UTC, within {policy.read_keeps_hot_days} d"
            else:
                step.why = f"older than {policy.hot_days} days" + (
                    f", last read {last:%Y-%m-%d}"
                    if last
                    else f", not read by the lake engine in {policy.read_keeps_hot_days} d"
                )
            plans.append(step)
    return plans


def _read_window_start(policy: TierPolicy) -> datetime:
    """Reads since then keep a partition hot; older ones no longer matter."""
    return datetime.now(UTC) - timedelta(days=policy.read_keeps_hot_days)


def _hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _cold_names(folder: Path) -> dict[str, str]:
    """name -> sha256 of the files already packed in a cold partition."""
    names: dict[str, str] = {}
    for part in sorted(folder.glob("*.parquet")):
        table = pq.read_table(part, columns=["name", "sha256"])
        names.update(zip(table["name"].to_pylist(), table["sha256"].to_pylist(), strict=True))
    return names


def _move_to_cold(lake: Path, step: PartitionPlan, run_id: str) -> None:
    hot = lake / "raw" / f"source={step.source}" / step.partition
    cold = lake / COLD / "raw" / f"source={step.source}" / step.partition
    cold.mkdir(parents=True, exist_ok=True)
    packed = _cold_names(cold)  # a rerun after a crash: these are safe already
    rows: dict[str, list[object]] = {n: [] for n in COLD_SCHEMA.names}
    files = _files(hot)
    for path in files:
        data = path.read_bytes()
        digest = _hash(data)
        if packed.get(path.name) == digest:
            continue
        for column, value in zip(
            COLD_SCHEMA.names, (path.name, len(data), digest, data), strict=True
        ):
            rows[column].append(value)
    if rows["name"]:
        target = cold / f"{run_id}.parquet"
        partial = cold / f".{run_id}.parquet.partial"
        pq.write_table(
            pa.table(rows, schema=COLD_SCHEMA), partial, compression="zstd",
            compression_level=9,
        )  # fmt: skip
        with partial.open("rb") as fh:
            os.fsync(fh.fileno())
        check = pq.read_table(partial)
        wrote = dict(zip(check["name"].to_pylist(), check["content"].to_pylist(), strict=True))
        for name, expected in zip(rows["name"], rows["sha256"], strict=True):
            if _hash(wrote.get(str(name), b"")) != expected:
                partial.unlink(missing_ok=True)
                raise SourceError(f"packing {hot} lost {name}; nothing was moved", path=str(hot))
        partial.replace(target)
    for path in files:
        path.unlink()
    _remove_empty(hot, stop=lake)
    step.bytes_after = sum(p.stat().st_size for p in cold.glob("*.parquet"))


def _remove_empty(folder: Path, stop: Path) -> None:
    while folder != stop and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def _expire(lake: Path, step: PartitionPlan) -> None:
    root = lake / "raw" if step.tier == "hot" else lake / COLD / "raw"
    folder = root / f"source={step.source}" / step.partition
    for path in _files(folder) + sorted(folder.glob("*.parquet")):
        path.unlink(missing_ok=True)
    _remove_empty(folder, stop=lake)
    step.bytes_after = 0


def apply(
    settings: Settings, policy: TierPolicy, *, dry_run: bool = False, today: date | None = None
) -> TierReport:
    """Tier the local lake: move old raw partitions to cold, expire, then catalog and ledger."""
    from core.warehouse import connect_writer, transaction
    from pipelines.ledger import RunLedger

    steps = plan(settings, policy, today)
    changed = [p for p in steps if p.action != "hot (read)"]
    if dry_run:
        return TierReport(run_id=None, dry_run=True, partitions=steps)
    pruned = prune_reads(settings, _read_window_start(policy))
    if pruned:
        log.info("lake tier: pruned %d access-log entries older than %d days", pruned,
                 policy.read_keeps_hot_days)  # fmt: skip
    run = None
    if changed:
        # the run is visible as running while files move; the writer is not held meanwhile,
        # so loads and queries in other processes go on
        con = connect_writer(settings)
        try:
            run = RunLedger(con).start("lake-tier", "lake", None, [_entry(p) for p in changed])
        finally:
            con.close()
    error: BaseException | None = None
    try:
        for step in changed:
            assert run is not None
            if step.action == "cold":
                _move_to_cold(settings.lake_dir, step, run.run_id)
            else:
                _expire(settings.lake_dir, step)
            log.info("lake tier: %s %s %s (%s)", step.dataset, step.partition, step.action,
                     step.why)  # fmt: skip
    except BaseException as exc:
        error = exc
        raise
    finally:
        con = connect_writer(settings)
        try:
            with transaction(con):
                # also after a failure or with nothing to move: the catalog describes the disk
                sync_raw_entries(con, settings.lake_dir)
                if run is not None:
                    run.inputs = [_entry(p) for p in changed]
                    run.records_in = sum(p.files for p in changed)
                    run.accepted = sum(p.files for p in changed if p.action == "cold")
                    RunLedger(con).finish(
                        run, "failed" if error else "succeeded", str(error) if error else None
                    )
        finally:
            con.close()
    return TierReport(
        run_id=run.run_id if run else None, dry_run=False, partitions=steps, reads_pruned=pruned
    )


def _entry(step: PartitionPlan) -> dict[str, object]:
    return {
        "dataset": step.dataset, "partition": step.partition, "action": step.action,
        "files": step.files, "bytes_before": step.bytes_before, "bytes_after": step.bytes_after,
    }  # fmt: skip


def cold_dataset(source: str) -> str:
    """The catalog name of a source's cold raw partitions."""
    return f"raw/{source}/cold"


def sync_raw_entries(con: duckdb.DuckDBPyConnection, lake: Path) -> None:
    """Set the catalog's raw entries from the folders on disk, so locations follow every move.

    `raw/<source>` lists its hot partitions; `raw/<source>/cold` (created here) lists the cold
    ones at `<lake>/cold/raw/source=<source>`. Idempotent: it describes, it does not append.
    """
    hot: dict[str, list[str]] = {}
    for source, day, _ in _partitions(lake / "raw"):
        hot.setdefault(source, []).append(f"dt={day.isoformat()}")
    cold: dict[str, list[Path]] = {}
    for source, _, folder in _partitions(lake / COLD / "raw"):
        cold.setdefault(source, []).append(folder)
    known = [str(r[0]) for r in con.execute(
        "SELECT dataset FROM data_catalog WHERE zone = 'raw'"
    ).fetchall()]  # fmt: skip
    for dataset in known:
        source = dataset.removeprefix("raw/")
        if "/" not in source:
            # only when it differs: a rerun with nothing to do changes nothing
            con.execute(
                "UPDATE data_catalog SET partitions = ?, updated_at = timezone('UTC', now()) "
                "WHERE dataset = ? AND list_sort(partitions) IS DISTINCT FROM ?",
                [hot.get(source, []), dataset, sorted(hot.get(source, []))],
            )
        elif source.endswith("/cold") and source.removesuffix("/cold") not in cold:
            con.execute("DELETE FROM data_catalog WHERE dataset = ?", [dataset])
    for source, folders in cold.items():
        files = sum(
            pq.ParquetFile(p).metadata.num_rows for f in folders for p in f.glob("*.parquet")
        )
        con.execute(
            """INSERT INTO data_catalog (dataset, zone, location, format, schema, partitions,
                                         row_count, updated_at)
               VALUES (?, 'raw', ?, 'parquet', ?, ?, ?, timezone('UTC', now()))
               ON CONFLICT (dataset) DO UPDATE SET location = excluded.location,
                   schema = excluded.schema, partitions = excluded.partitions,
                   row_count = excluded.row_count, updated_at = excluded.updated_at
               WHERE data_catalog.partitions IS DISTINCT FROM excluded.partitions
                  OR data_catalog.row_count IS DISTINCT FROM excluded.row_count
                  OR data_catalog.location IS DISTINCT FROM excluded.location""",
            [cold_dataset(source), str(lake / COLD / "raw" / f"source={source}"),
             json.dumps({"name": "VARCHAR", "bytes": "BIGINT", "sha256": "VARCHAR",
                         "content": "BLOB"}),
             sorted(f.name for f in folders), files],
        )  # fmt: skip
