"""A record delivered more than once in a batch (a producer's retry) is loaded once: not
quarantined as a repeated key, and no alert about a source gone bad (the audit's B18)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.settings import Settings
from pipelines.commands.flows import stream_app
from tests.conftest import query_warehouse


def test_the_same_file_produced_three_times_loads_its_records_once(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENCORE_DATA_DIR", str(settings.data_dir))
    path = tmp_path / "fans.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["fan_id", "city", "age_band"])
        writer.writerows([[f"F{i}", "Austin", "25-34"] for i in range(3)])
    runner = CliRunner()
    for _ in range(3):
        assert runner.invoke(stream_app, ["produce", str(path)]).exit_code == 0
    consumed = runner.invoke(stream_app, ["consume", "--idle-timeout", "0.3"],
                             terminal_width=200)  # fmt: skip
    assert consumed.exit_code == 0, consumed.output
    assert "9 records" in consumed.output and "3 accepted, 0 quarantined, 6 repeats" in (
        consumed.output
    )
    assert query_warehouse(settings, "SELECT count(*) FROM fans") == [(3,)]
    assert query_warehouse(settings, "SELECT count(*) FROM quarantine") == [(0,)]
    assert query_warehouse(settings, "SELECT count(*) FROM alerts WHERE resolved_at IS NULL") == [
        (0,)
    ]

    # a record that shares a key but differs is still quarantined: that is conflicting data
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows([["fan_id", "city"], ["F7", "Austin"], ["F7", "Dallas"]])
    runner.invoke(stream_app, ["produce", str(path)])
    again = runner.invoke(stream_app, ["consume", "--idle-timeout", "0.3"], terminal_width=200)
    assert "1 accepted, 1 quarantined, 0 repeats" in again.output
