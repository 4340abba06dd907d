"""Benchmarks of the data pipelines, each against a DuckDB baseline run in the same process."""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

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
class IngestBench:
    """Ingesting a ticket-sales CSV end to end, against DuckDB's own `read_csv` of the file."""

    rows: int
    file_mb: float
    ingest_s: float
    accepted: int
    quarantined: int
    read_csv_s: float

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "rows_per_s": round(self.rows / self.ingest_s),
            "ratio_to_read_csv": round(self.ingest_s / self.read_csv_s, 2),
        }


def bench_ingest(rows: int = 1_000_000, seed: int = 42) -> IngestBench:
    """Generate >= `rows` ticket sales as CSV, ingest them, time DuckDB reading the same file."""
    from pipelines.ingest import ingest_files
    from pipelines.sinks.files import FileSink

    scale = SCALES["default"] if rows > SCALES["small"].ticket_sales else SCALES["small"]
    with tempfile.TemporaryDirectory(prefix="encore-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp) / "ours")
        out = Path(tmp) / "files"
        parents: list[tuple[str, pa.Table]] = []
        with FileSink(out, "csv") as sink:
            for name, chunk in generate(scale, seed, date.today()):
                if name == "ticket_sales":
                    sink.write(name, chunk)
                else:
                    parents.append((name, chunk))
        # the concerts and fans the sales refer to are loaded first, outside the timing
        rebuild(settings, (c for c in parents if c[0] != "concert_results"), source="bench",
                parameters={"seed": seed})  # fmt: skip
        path = out / "ticket_sales.csv"
        started = time.perf_counter()
        [outcome] = ingest_files(settings, [path], entity="ticket_sales")
        ingest_s = time.perf_counter() - started
        run = outcome.run
        started = time.perf_counter()
        con = duckdb.connect()
        con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{path}')")
        counted = con.execute("SELECT count(*) FROM t").fetchone()
        read_csv_s = time.perf_counter() - started
        return IngestBench(
            rows=int(counted[0]) if counted else 0,
            file_mb=round(path.stat().st_size / 1e6, 1),
            ingest_s=ingest_s,
            accepted=run.accepted if run else 0,
            quarantined=run.quarantined if run else 0,
            read_csv_s=read_csv_s,
        )
