"""`analyze` and `chart` commands (for the lead to mount on `encore`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.settings import Settings
from tools.interpreter.cli import app


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
