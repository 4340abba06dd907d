"""The CI gate: the offline planner, through the real MCP servers, meets evals/thresholds.yaml.

A full `encore eval` takes about two minutes on two cores, so the gate runs a deterministic
sample: the first case of every template (`one_per_template`) - every category, every kind of
question and every prompt injection, about 110 cases. `make eval` runs them all.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import get_args

import pytest

from agent.planner import OfflinePlanner
from core.settings import Settings
from evals.cases import Category
from evals.report import gate, markdown, write_report
from evals.runner import EvalRun, run_eval

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sample_run(eval_warehouse: Settings) -> EvalRun:
    return asyncio.run(run_eval(eval_warehouse, model="offline", quick=True))


def test_the_sample_covers_every_category(sample_run: EvalRun) -> None:
    assert {c.case.category for c in sample_run.cases} == set(get_args(Category))
    assert sample_run.summary()["errors"] == 0


def test_offline_planner_meets_the_thresholds(sample_run: EvalRun, tmp_path: Path) -> None:
    write_report(sample_run, tmp_path / "eval.md")
    failures = gate(sample_run.summary())
    assert not failures, f"{failures}\n\n{markdown(sample_run)}"


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
