"""The `encore` command as a user runs it: the installed console script in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from itertools import islice
from pathlib import Path

import pytest

from core.settings import Settings

ENCORE = shutil.which("encore", path=str(Path(sys.executable).parent)) or "encore"


def run(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ENCORE_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    return subprocess.run(
        [ENCORE, *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = run(tmp_path, "--help")
    assert result.returncode == 0
    for command in (
        "generate", "check", "demo", "ingest", "train", "predict", "recommend", "query",
        "analyze", "ask", "chat", "mcp", "ui", "eval", "bench",
    ):  # fmt: skip
        assert command in result.stdout


def test_generate_then_check(tmp_path: Path) -> None:
    result = run(tmp_path, "generate", "--scale", "small", "--seed", "3", "--as-of", "2026-01-10")
    assert result.returncode == 0, result.stderr
    assert "ticket_sales" in result.stdout
    assert "rows/s" in result.stdout
    assert (tmp_path / "warehouse.duckdb").exists()

    check = run(tmp_path, "check", "--json")
    assert check.returncode == 0, check.stdout + check.stderr
    report = json.loads(check.stdout)
    assert report["ok"] is True
    assert report["counts"]["artists"] == 250

    again = run(tmp_path, "generate", "--scale", "small")
    assert again.returncode == 2
    assert "already holds" in again.stderr and "--replace" in again.stderr


def test_bad_options_get_clear_errors(tmp_path: Path) -> None:
    dirty = run(tmp_path, "generate", "--scale", "small", "--dirty")
    assert dirty.returncode == 2
    assert "--out DIR" in dirty.stderr
    bad_date = run(tmp_path, "generate", "--scale", "small", "--as-of", "26/11/2026")
    assert bad_date.returncode == 2
    assert "--as-of must be a date like" in bad_date.stderr
    no_warehouse = run(tmp_path, "check")
    assert no_warehouse.returncode == 2
    assert "encore generate" in no_warehouse.stderr


@pytest.mark.slow
def test_demo_builds_once_then_reuses(tmp_path: Path) -> None:
    first = run(tmp_path, "demo", "--scale", "small", "--no-ui")
    assert first.returncode == 0, first.stderr
    assert "Building the small demo warehouse" in first.stdout
    assert "Pipeline run" in first.stdout
    assert "data quality of the warehouse passed" in first.stdout  # the demo checks all it built
    for model in ("venue_ranking", "sales_forecast", "recommender"):
        assert f"{model}:" in first.stdout  # trained, with its summary line
        assert (tmp_path / "models" / model).is_dir()
    second = run(tmp_path, "demo", "--scale", "small", "--no-ui")
    assert second.returncode == 0, second.stderr
    assert "Reusing the small demo warehouse" in second.stdout
    assert "Reusing the trained models" in second.stdout


@pytest.mark.slow
def test_bench_recsys_prints_the_promised_json(tmp_path: Path, shared_data: Path) -> None:
    # the command's contract on the first 5,000 real plays (about 100 users): the whole file is
    # benchmarked, with its reference figures, in tests/models/test_recsys.py (30 s, not 3 s)
    source = shared_data / "hetrec2011-lastfm-2k" / "user_artists.dat"
    data = tmp_path / "hetrec2011-lastfm-2k"
    data.mkdir()
    with source.open(encoding="utf-8") as lines:
        (data / "user_artists.dat").write_text("".join(islice(lines, 5_001)), encoding="utf-8")
    result = run(tmp_path, "bench", "recsys", "--data", str(data), "--no-als", "--json")
    assert result.returncode == 0, result.stderr
    models = json.loads(result.stdout)["models"]
    assert [m["name"] for m in models][:2] == ["most-popular", "EASE"]
    keys = {"name", "precision@10", "recall@10", "ndcg@10", "map@10", "coverage@10", "train_s"}
    assert all(keys <= set(m) for m in models)


# What `encore --help` (and every `encore <group> --help`) must not wait for: each takes from
# 0.2 s to several seconds to import, and a command imports them when it runs.
HEAVY = (
    "pandas",
    "sklearn",
    "scipy",
    "plotly",
    "mcp.server.fastmcp",
    "strands",
    "chainlit",
    "sqlglot",
    "joblib",
    "numpy",
    "pyarrow",
    "duckdb",
)


def test_the_cli_starts_without_heavy_libraries() -> None:
    code = (
        "import json, sys\n"
        "import agent.cli\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(done.stdout) == []


def test_group_help_still_works(tmp_path: Path) -> None:
    for group in ("recommend", "bench", "aws"):
        result = run(tmp_path, group, "--help")
        assert result.returncode == 0, result.stderr
        assert "Usage" in result.stdout


def test_chart_kinds_in_the_help_are_the_ones_drawn() -> None:
    from tools.charts.build import KINDS
    from tools.interpreter.cli import CHART_KINDS

    assert " | ".join(KINDS) == CHART_KINDS


def test_ask_answers_then_exits_with_its_code(trained_warehouse: Settings, tmp_path: Path) -> None:
    """`encore ask` leaves without Python's teardown once it has answered (core.process): the
    whole answer is printed and flushed, and a failure keeps its exit code."""
    from tests.conftest import copy_warehouse

    settings = copy_warehouse(trained_warehouse, tmp_path, models=True)
    answered = run(settings.data_dir, "-v", "ask", "Which genres sell the most tickets?", "--json")
    assert answered.returncode == 0, answered.stderr
    turn = json.loads(answered.stdout)
    assert turn["answer"] and turn["tool_calls"], turn
    refused = run(settings.data_dir, "ask", "hi", "--model", "gpt5")
    assert refused.returncode != 0 and "gpt5" in refused.stdout + refused.stderr
