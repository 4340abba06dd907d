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
