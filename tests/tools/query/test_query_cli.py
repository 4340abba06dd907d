"""`encore query` and the semantic benchmark, driven as a user would."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from core.settings import Settings
from tools.query.bench import bench_semantic
from tools.query.cli import app, bench_app, parse_filter


def _root() -> typer.Typer:
    root = typer.Typer()
    root.registered_commands.extend(app.registered_commands)
    bench = typer.Typer()
    bench.registered_commands.extend(bench_app.registered_commands)
    root.add_typer(bench, name="bench")
    return root


@pytest.fixture
def env(query_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCORE_DATA_DIR", str(query_settings.data_dir))
    monkeypatch.setenv("ENCORE_WAREHOUSE_PATH", str(query_settings.warehouse_file))


def test_query_sql_and_semantic(env: None) -> None:
    runner = CliRunner()
    out = runner.invoke(_root(), ["query", "SELECT COUNT(*) AS n FROM artists", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["rows"] == [[250]]
    out = runner.invoke(
        _root(),
        ["query", "-m", "tickets_sold,concerts", "-d", "genre", "-f", "year>=2020", "--json"],
    )
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["columns"] == ["genre", "tickets_sold", "concerts"]


def test_query_refusal_exits_with_the_reason(env: None) -> None:
    out = CliRunner().invoke(_root(), ["query", "DROP TABLE fans", "--role", "partner"])
    assert out.exit_code == 1
    assert "only SELECT is allowed; got DROP" in out.output


def test_query_runs_as_the_role_in_encore_role(env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A deployment that sets ENCORE_ROLE=partner gets the partner's view from `encore query`,
    as from `encore ask`: fan ids are not the partner's to read."""
    monkeypatch.setenv("ENCORE_ROLE", "partner")
    out = CliRunner().invoke(_root(), ["query", "SELECT fan_id FROM fans LIMIT 1"])
    assert out.exit_code == 1
    assert "not available to role partner" in out.output
    out = CliRunner().invoke(_root(), ["query", "SELECT fan_id FROM fans LIMIT 1", "--json",
                                       "--role", "analyst"])  # fmt: skip
    assert out.exit_code == 0, out.output


def test_parse_filter() -> None:
    assert parse_filter("state=CA") == {"field": "state", "op": "=", "value": "CA"}
    assert parse_filter("venue_type in arena, club")["value"] == ["arena", "club"]
    assert parse_filter("tickets_sold >= 1000")["op"] == ">="


def test_bench_semantic_reports_percentiles(query_settings: Settings) -> None:
    result = bench_semantic(query_settings, repeats=1)
    assert result["runs"] == result["queries"] >= 8
    assert result["p95_ms"] >= result["p50_ms"] > 0
    assert result["baseline_p50_ms"] > 0 and result["ratio_p50"] > 0
    assert result["fresh_connection_p50_ms"] > 0 and result["compile_and_guard_p50_ms"] > 0
