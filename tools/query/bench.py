"""Semantic-query latency against the same SQL on a plain DuckDB connection (the baseline)."""

from __future__ import annotations

import statistics
import time
from typing import Any

import duckdb

from core.settings import Settings
from core.warehouse import reading, release_readers, share_readers
from tools.context import ToolContext
from tools.query.guard import check
from tools.query.policy import load_policy
from tools.query.runner import warehouse_schema
from tools.query.semantic import compile_semantic, semantic_query
from tools.query.semantic_model import Filter, SemanticQuery, TimeRange

TYPICAL: tuple[SemanticQuery, ...] = (
    SemanticQuery(measures=["tickets_sold", "gross_revenue"], dimensions=["genre"]),
    SemanticQuery(measures=["sell_through", "sell_outs"], dimensions=["venue_type", "year"]),
    SemanticQuery(
        measures=["concerts", "tickets_sold"],
        dimensions=["city"],
        filters=[Filter(field="state", op="=", value="CA")],
        limit=10,
    ),
    SemanticQuery(measures=["gross_revenue"], dimensions=["month"], limit=500),
    SemanticQuery(measures=["tickets_sold", "fans"], dimensions=["channel", "price_tier"]),
    SemanticQuery(measures=["fans"], dimensions=["age_band"]),
    SemanticQuery(
        measures=["capacity", "gross_revenue", "fans"],
        dimensions=["genre"],
        time_range=TimeRange(start="2025-01-01", end="2025-12-31"),
    ),
    SemanticQuery(measures=["avg_ticket_price"], dimensions=["artist"], limit=20),
)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def bench_semantic(settings: Settings, repeats: int = 10) -> dict[str, Any]:
    """p50/p95 of semantic queries end to end (compile, guard, the servers' shared locked-down
    connection, audit) against the compiled SQL run again and again on one plain read-only
    DuckDB connection."""
    ctx = ToolContext(settings, user="bench", role="analyst")
    sqls = [compile_semantic(query) for query in TYPICAL]
    ours: list[list[float]] = []
    share_readers()  # as the MCP servers run: one open database between calls
    try:
        for query in TYPICAL:
            semantic_query(ctx, **query.model_dump())  # warm the caches once
            runs = []
            for _ in range(repeats):
                start = time.perf_counter()
                semantic_query(ctx, **query.model_dump())
                runs.append((time.perf_counter() - start) * 1000)
            ours.append(runs)
    finally:
        share_readers(False)
    # DuckDB will not open a file twice in one process with different settings, so the plain
    # connection runs after the guarded ones, not interleaved
    theirs: list[list[float]] = []
    release_readers(settings)
    plain = duckdb.connect(str(settings.warehouse_file), read_only=True)
    try:
        for sql in sqls:
            plain.execute(sql).fetchall()
            runs = []
            for _ in range(repeats):
                start = time.perf_counter()
                plain.execute(sql).fetchall()
                runs.append((time.perf_counter() - start) * 1000)
            theirs.append(runs)
    finally:
        plain.close()
    # the same SQL on a plain connection opened and closed per query (what tools did before they
    # shared one reader): what reopening the file costs
    fresh: list[float] = []
    for sql in sqls:
        for _ in range(repeats):
            start = time.perf_counter()
            con = duckdb.connect(str(settings.warehouse_file), read_only=True)
            try:
                con.execute(sql).fetchall()
            finally:
                con.close()
            fresh.append((time.perf_counter() - start) * 1000)
    # the guard and compiler alone (pure Python, no database)
    policy = load_policy()
    with reading(settings) as con:
        schema = warehouse_schema(con, settings)
    layer: list[float] = []
    for query in TYPICAL:
        for _ in range(repeats):
            start = time.perf_counter()
            check(compile_semantic(query), policy.role("analyst"), policy, schema, aggregated=True)
            layer.append((time.perf_counter() - start) * 1000)
    encore = [ms for runs in ours for ms in runs]
    baseline = [ms for runs in theirs for ms in runs]
    per_query = [
        {
            "query": "+".join(q.measures) + " by " + ("+".join(q.dimensions) or "-"),
            "p50_ms": round(statistics.median(a), 1),
            "baseline_p50_ms": round(statistics.median(b), 1),
        }
        for q, a, b in zip(TYPICAL, ours, theirs, strict=True)
    ]
    p50, base50 = statistics.median(encore), statistics.median(baseline)
    return {
        "queries": len(TYPICAL),
        "runs": len(encore),
        "p50_ms": round(p50, 1),
        "p95_ms": round(_percentile(encore, 0.95), 1),
        "baseline_p50_ms": round(base50, 1),
        "baseline_p95_ms": round(_percentile(baseline, 0.95), 1),
        "ratio_p50": round(p50 / base50, 2) if base50 else None,
        "fresh_connection_p50_ms": round(statistics.median(fresh), 1),
        "fresh_connection_p95_ms": round(_percentile(fresh, 0.95), 1),
        "ratio_p50_to_fresh_connection": round(p50 / statistics.median(fresh), 2),
        "compile_and_guard_p50_ms": round(statistics.median(layer), 1),
        "compile_and_guard_p95_ms": round(_percentile(layer, 0.95), 1),
        "per_query": per_query,
    }
