"""`ask`, `chat` and the traces they write, through the CLI with a real provider client talking to
a loopback OpenAI-protocol server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.commands import app
from core.settings import Settings
from tests.agent.conftest import MCP_COMMAND
from tests.agent.wire import Script, serve

QUERY = {"measures": ["tickets_sold"], "dimensions": ["genre"], "limit": 4}


@pytest.fixture
def cli_env(
    small_warehouse: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Script, Path]]:
    script = Script("semantic_query", QUERY, "Rock leads.")
    traces = tmp_path / "traces.jsonl"
    with serve(script) as url:
        for key, value in {
            "ENCORE_DATA_DIR": str(tmp_path / "data"),
            "ENCORE_WAREHOUSE_PATH": str(small_warehouse.warehouse_file),
            "ENCORE_MCP_COMMAND": json.dumps(MCP_COMMAND),
            "ENCORE_MODEL": "openai:test-model",
            "ENCORE_MODEL_BASE_URL": f"{url}/v1",
            "ENCORE_TRACES": f"file:{traces}",
        }.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        yield script, traces


def test_ask_json_prints_exactly_the_contract_object(cli_env: tuple[Script, Path]) -> None:
    result = CliRunner().invoke(app, ["ask", "which genres sell?", "--json", "--session", "s9"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert list(body) == [
        "answer",
        "tool_calls",
        "sql",
        "tables",
        "charts",
        "latency_ms",
        "session",
    ]
    assert body["answer"] == "Rock leads."
    assert body["tool_calls"] == [{"name": "semantic_query", "input": QUERY}]
    assert body["tables"][0]["columns"] == ["genre", "tickets_sold"]
    assert len(body["sql"]) == 1 and body["session"] == "s9"
    assert body["charts"] == [] and body["latency_ms"] > 0


def test_a_turn_writes_spans_naming_its_tool_calls(cli_env: tuple[Script, Path]) -> None:
    _, traces = cli_env
    result = CliRunner().invoke(app, ["ask", "which genres sell?"])
    assert result.exit_code == 0, result.output
    assert "Rock leads." in result.stdout and "genre" in result.stdout  # answer and table
    spans = [json.loads(line) for line in traces.read_text().splitlines()]
    names = [s["name"] for s in spans]
    assert "encore.turn" in names
    assert any("semantic_query" in n for n in names), names
    turn = next(s for s in spans if s["name"] == "encore.turn")
    assert turn["attributes"]["encore.tool_calls"] == 1
    assert turn["attributes"]["gen_ai.usage.input_tokens"] > 0


def test_chat_answers_until_quit(cli_env: tuple[Script, Path]) -> None:
    result = CliRunner().invoke(app, ["chat", "--user", "zoe"], input="which genres?\n/quit\n")
    assert result.exit_code == 0, result.output
    assert "semantic_query" in result.stdout and "Rock leads." in result.stdout


def test_a_bad_model_is_a_plain_error(cli_env: tuple[Script, Path]) -> None:
    result = CliRunner().invoke(app, ["ask", "hi", "--model", "gpt5"])
    assert result.exit_code == 1
    assert "unknown model" in result.output
