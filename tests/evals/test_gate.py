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

from agent.planner import OfflinePlanner
from core.settings import Settings
from evals.cases import Category
from evals.report import gate, markdown, write_report
from evals.runner import EvalRun, run_eval

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def full_run(eval_warehouse: Settings) -> EvalRun:
    return asyncio.run(run_eval(eval_warehouse, model="offline"))


def test_the_run_covers_every_category(full_run: EvalRun) -> None:
    assert {c.case.category for c in full_run.cases} == set(get_args(Category))
    assert full_run.summary()["errors"] == 0


def test_offline_planner_meets_the_thresholds(full_run: EvalRun, tmp_path: Path) -> None:
    write_report(full_run, tmp_path / "eval.md")
    failures = gate(full_run.summary())
    assert not failures, f"{failures}\n\n{markdown(full_run)}"


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
