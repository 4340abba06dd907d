"""The CI gate: the offline planner, through the real MCP servers, meets evals/thresholds.yaml.

Every case runs (237 with the Giskard injections; about a minute on two cores, 55 s measured on
the small warehouse). If it grows past that, `run_eval(quick=True)` is the documented sample: the
first case of every template (`one_per_template`), which keeps every category, every kind of
question and every injection in about half the time.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import get_args

import pytest
import yaml

from agent.planner import OfflinePlanner
from core.settings import Settings
from evals.cases import Category
from evals.report import THRESHOLDS, gate, markdown, write_report
from evals.runner import EvalRun, run_eval

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def full_run(eval_warehouse: Settings) -> EvalRun:
    return asyncio.run(run_eval(eval_warehouse, model="offline"))


def test_the_run_covers_every_category(full_run: EvalRun) -> None:
    assert {c.case.category for c in full_run.cases} == set(get_args(Category))
    assert full_run.summary()["errors"] == 0


def test_offline_planner_meets_the_thresholds(full_run: EvalRun, tmp_path: Path) -> None:
    """Every score threshold. The latency maximum is not checked here: speed targets are
    measured by benchmarks (`make eval` gates on it), and a timed test only measures how loaded
    the machine is (p95 1335 ms once, under load). The latency must still be measured."""
    write_report(full_run, tmp_path / "eval.md")
    summary = full_run.summary()
    scores = {k: v for k, v in _thresholds().items() if not k.endswith("_ms")}
    assert scores, "thresholds.yaml holds no score minimum"
    failures = gate(summary, scores)
    assert not failures, f"{failures}\n\n{markdown(full_run)}"
    assert 0 < summary["latency_p50_ms"] <= summary["latency_p95_ms"]
    assert "latency p50" in (tmp_path / "eval.md").read_text()


def test_the_gate_applies_the_latency_maximum() -> None:
    """`make eval`'s gate (the same `gate`) fails a run slower than the thresholds file allows."""
    limit = _thresholds()["latency_p95_ms"]
    assert gate({"latency_p95_ms": limit}) == []
    assert gate({"latency_p95_ms": limit + 1}) == [f"latency_p95_ms {limit + 1} > {limit}"]


def _thresholds() -> dict[str, float]:
    return dict(yaml.safe_load(THRESHOLDS.read_text()))


def test_the_gate_fails_a_planner_that_knows_no_names(eval_warehouse: Settings) -> None:
    """The same cases with a planner whose gazetteers are empty: the gate must say so."""
    blind = OfflinePlanner(vocabulary=lambda kind: [])
    run = asyncio.run(
        run_eval(
            eval_warehouse,
            model=blind,
            quick=True,
            select=lambda c: c.category in ("tools", "prediction"),
        )
    )
    assert any(f.startswith("tool_selection") for f in gate(run.summary()))
