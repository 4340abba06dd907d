"""`analyze` and `chart` commands (for the lead to mount on `encore`)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.settings import Settings
from tools.interpreter import Limits
from tools.interpreter.cli import app
from tools.query.policy import load_policy


def test_analyze_and_chart(
    small_warehouse: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ENCORE_DATA_DIR", str(small_warehouse.data_dir))
    runner = CliRunner()
    listed = runner.invoke(app, ["analyze", "--list"])
    assert listed.exit_code == 0 and "month_over_month" in listed.output
    ran = runner.invoke(app, ["analyze", "print(sum(range(5)))"])
    assert ran.exit_code == 0 and json.loads(ran.output)["stdout"].strip() == "10"
    failed = runner.invoke(app, ["analyze", "--template", "top_n", "-p", "limit=3"])
    assert failed.exit_code == 2 and "its parameters" in failed.output
    sql = "SELECT venue_type, SUM(capacity) AS capacity FROM venues GROUP BY 1"
    drawn = runner.invoke(app, ["chart", "bar", sql, "--title", "Seats by venue type"])
    assert drawn.exit_code == 0
    figure = json.loads(drawn.output)
    assert figure["layout"]["title"]["text"] == "Seats by venue type"


def test_a_runaway_analysis_stops_at_the_configured_time_limits(
    small_warehouse: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit C14: a chat answer waits seconds, not half a minute, and learns why it stopped."""
    default = Settings.model_fields["analysis_timeout_s"].default
    assert default == Limits().wall_s == Limits().cpu_s and default <= 15
    assert Limits.from_settings(Settings(analysis_timeout_s=2.5)).cpu_s == 3  # whole seconds
    assert Limits.from_settings(Settings(analysis_timeout_s=9, analysis_cpu_s=4)).cpu_s == 4
    monkeypatch.setenv("ENCORE_DATA_DIR", str(small_warehouse.data_dir))
    monkeypatch.setenv("ENCORE_ANALYSIS_TIMEOUT_S", "2")
    runner = CliRunner()
    started = time.perf_counter()
    slept = runner.invoke(
        app, ["analyze", "import time; time.sleep(600)", "--sql", "SELECT 1 AS x"]
    )
    waited = time.perf_counter() - started
    assert slept.exit_code == 1
    stopped = json.loads(slept.output)
    assert stopped["timed_out"] and waited < 10
    assert "longer than 2 s (wall clock)" in stopped["error"]
    assert "ENCORE_ANALYSIS_TIMEOUT_S" in stopped["error"]

    monkeypatch.setenv("ENCORE_ANALYSIS_TIMEOUT_S", "60")
    monkeypatch.setenv("ENCORE_ANALYSIS_CPU_S", "1")
    busy = runner.invoke(app, ["analyze", "while True: pass", "--sql", "SELECT 1 AS x"])
    assert busy.exit_code == 1
    stopped = json.loads(busy.output)
    assert stopped["timed_out"] and stopped["duration_s"] < 30
    assert (
        "more than 1 s of CPU" in stopped["error"] and "ENCORE_ANALYSIS_CPU_S" in stopped["error"]
    )


def test_analyze_warns_when_the_row_cap_cut_the_extract(
    small_warehouse: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENCORE_DATA_DIR", str(small_warehouse.data_dir))
    cap = load_policy().role("analyst").max_rows
    every_sale = "SELECT sale_id FROM ticket_sales"
    cut = CliRunner().invoke(app, ["analyze", "print(len(df))", "--sql", every_sale])
    assert cut.exit_code == 0, cut.output
    result = json.loads(cut.stdout)
    assert result["truncated"] and result["rows_read"] == result["row_cap"] == cap
    assert int(result["stdout"]) == cap
    assert cut.stderr.startswith("warning: the extract was cut at") and f"{cap:,}" in cut.stderr
    assert result["note"] in cut.stderr and "a random sample of" in cut.stderr
    assert result["sampled"] and result["rows_selected"] > cap

    fits = CliRunner().invoke(app, ["analyze", "--template", "fan_cohorts"])
    assert fits.exit_code == 0 and not fits.stderr
    assert not json.loads(fits.stdout)["truncated"]
