"""Benchmarks of the data pipelines, each against a DuckDB baseline run in the same process."""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from core.errors import EncoreError
from core.settings import Settings
from pipelines.generate import SCALES, ScaleName, generate
from pipelines.sinks.warehouse import rebuild


@dataclass(frozen=True)
class GenerateBench:
    """Generating and loading a scale, against DuckDB inserting as many rows from `range()`."""

    scale: str
    rows: int
    generate_s: float
    load_s: float
    baseline_s: float

    @property
    def total_s(self) -> float:
        return self.generate_s + self.load_s

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "total_s": round(self.total_s, 3),
            "rows_per_s": round(self.rows / self.total_s),
            "baseline_rows_per_s": round(self.rows / self.baseline_s),
            "ratio_to_baseline": round(self.total_s / self.baseline_s, 2),
        }


def bench_generate(scale: ScaleName = "default", seed: int = 42) -> GenerateBench:
    """Time generation, then the atomic load, then the baseline, all in this process."""
    spec = SCALES[scale]
    with tempfile.TemporaryDirectory(prefix="encore-bench-") as tmp:
        started = time.perf_counter()
        chunks: list[tuple[str, pa.Table]] = list(generate(spec, seed, date.today()))
        generated = time.perf_counter()
        settings = Settings(data_dir=Path(tmp) / "ours")
        counts = rebuild(
            settings, chunks, source="bench", parameters={"scale": scale, "seed": seed}
        )
        loaded = time.perf_counter()
        rows = sum(counts.values()) - counts["concert_performance"]  # derived, not generated
        baseline = _baseline(Path(tmp) / "baseline.duckdb", rows)
    return GenerateBench(scale, rows, generated - started, loaded - generated, baseline)


def _baseline(path: Path, rows: int) -> float:
    """DuckDB inserting `rows` ticket-sale-shaped rows from `range()` into a new file."""
    started = time.perf_counter()
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE sales (sale_id VARCHAR, concert_id VARCHAR, sold_at TIMESTAMP, "
        "channel VARCHAR, quantity INTEGER, unit_price DECIMAL(10, 2), amount DECIMAL(12, 2))"
    )
    con.execute(
        "INSERT INTO sales SELECT 'S' || i, 'C' || (i % 25000), "
        "TIMESTAMP '2024-01-01' + to_seconds(i), 'web', 1 + i % 4, (i % 9000) / 100, "
        "(1 + i % 4) * (i % 9000) / 100 FROM range(?) t(i)",
        [rows],
    )
    con.execute("CHECKPOINT")
    con.close()
    return time.perf_counter() - started


@dataclass(frozen=True)
class IngestRun:
    """One timed ingestion of the file and DuckDB's `read_csv` of it, back to back."""

    ingest_s: float
    read_csv_s: float
    steps: dict[str, float]
    """Seconds per step of the ingestion (`Run.timings`), in the order they ran."""

    @property
    def ratio(self) -> float:
        return self.ingest_s / self.read_csv_s


@dataclass(frozen=True)
class IngestBench:
    """Ingesting a ticket-sales CSV end to end, against DuckDB's own `read_csv` of the file.

    Each run ingests into a fresh copy of the same warehouse; the figures are the medians over
    the runs (a shared machine makes single runs noisy; each ratio is taken within its run).
    """

    rows: int
    file_mb: float
    accepted: int
    quarantined: int
    runs: list[IngestRun]

    @property
    def ingest_s(self) -> float:
        return statistics.median(r.ingest_s for r in self.runs)

    @property
    def read_csv_s(self) -> float:
        return statistics.median(r.read_csv_s for r in self.runs)

    @property
    def ratio(self) -> float:
        return statistics.median(r.ratio for r in self.runs)

    @property
    def steps(self) -> dict[str, float]:
        """The median seconds of each step over the runs."""
        names = dict.fromkeys(name for r in self.runs for name in r.steps)
        return {n: statistics.median(r.steps.get(n, 0.0) for r in self.runs) for n in names}

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "file_mb": self.file_mb,
            "runs": len(self.runs),
            "ingest_s": round(self.ingest_s, 3),
            "accepted": self.accepted,
            "quarantined": self.quarantined,
            "read_csv_s": round(self.read_csv_s, 3),
            "rows_per_s": round(self.rows / self.ingest_s),
            "ratio_to_read_csv": round(self.ratio, 2),
            "ratios": [round(r.ratio, 2) for r in self.runs],
            "steps_s": {name: round(s, 3) for name, s in self.steps.items()},
        }


def bench_ingest(rows: int = 1_000_000, seed: int = 42, runs: int = 1) -> IngestBench:
    """Generate >= `rows` ticket sales as CSV, then `runs` times: ingest them into a fresh copy
    of the warehouse holding their concerts and fans, and time DuckDB reading the same file."""
    from pipelines.ingest import ingest_files
    from pipelines.sinks.files import FileSink

    scale = SCALES["default"] if rows > SCALES["small"].ticket_sales else SCALES["small"]
    with tempfile.TemporaryDirectory(prefix="encore-bench-") as tmp:
        parents_dir = Path(tmp) / "parents"
        out = Path(tmp) / "files"
        parents: list[tuple[str, pa.Table]] = []
        with FileSink(out, "csv") as sink:
            for name, chunk in generate(scale, seed, date.today()):
                if name == "ticket_sales":
                    sink.write(name, chunk)
                else:
                    parents.append((name, chunk))
        # the concerts and fans the sales refer to are loaded first, outside the timing
        rebuild(Settings(data_dir=parents_dir), (c for c in parents if c[0] != "concert_results"),
                source="bench", parameters={"seed": seed})  # fmt: skip
        del parents
        path = out / "ticket_sales.csv"
        timed: list[IngestRun] = []
        accepted = quarantined = 0
        for i in range(runs):
            data_dir = Path(tmp) / f"run-{i}"
            shutil.copytree(parents_dir, data_dir)
            settings = Settings(data_dir=data_dir)
            started = time.perf_counter()
            [outcome] = ingest_files(settings, [path], entity="ticket_sales")
            ingest_s = time.perf_counter() - started
            run = outcome.run
            if outcome.status != "succeeded" or run is None:
                raise EncoreError(f"the benchmark's ingestion failed: {outcome.message}")
            started = time.perf_counter()
            con = duckdb.connect()
            con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{path}')")
            counted = con.execute("SELECT count(*) FROM t").fetchone()
            con.close()
            read_csv_s = time.perf_counter() - started
            timed.append(IngestRun(ingest_s, read_csv_s, dict(run.timings)))
            accepted, quarantined = run.accepted, run.quarantined
            shutil.rmtree(data_dir)
        return IngestBench(
            rows=int(counted[0]) if counted else 0,
            file_mb=round(path.stat().st_size / 1e6, 1),
            accepted=accepted,
            quarantined=quarantined,
            runs=timed,
        )
