"""`encore ask` in a terminal on the real offline agent and MCP server: a write the agent holds
back for confirmation is said in words with the command that does it (not the tool's raw JSON),
and a table prints once, its cells as the chat UI shows them, without being cut."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.build import close_mcp_clients
from agent.commands import app
from core.settings import Settings
from tests.agent.conftest import offline_cli
from tests.conftest import copy_warehouse, query_warehouse


@pytest.fixture(scope="module")
def data(
    trained_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    settings = copy_warehouse(trained_warehouse, tmp_path_factory.mktemp("ask"), models=True)
    yield settings
    close_mcp_clients()


@pytest.fixture
def env(data: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    return offline_cli(monkeypatch, data)


def _runs(settings: Settings) -> int:
    return int(query_warehouse(settings, "SELECT count(*) FROM pipeline_runs")[0][0])


def test_a_write_is_said_in_words_with_the_command_that_does_it(env: Settings) -> None:
    runs = _runs(env)
    result = CliRunner().invoke(app, ["ask", "Run the pipeline now", "--session", "w1"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    said = " ".join(out.split())  # the markdown wraps at 80 columns
    assert "needs_confirmation" not in said and "confirm=true" not in said and "{" not in said
    assert "Run the landing folder, the stream and the configured API sources" in said
    assert "Nothing has changed yet" in said
    assert re.search(r"^\s*encore pipeline run\s*$", out, re.MULTILINE), out
    assert _runs(env) == runs  # asking did not run it


def test_a_table_prints_once_formatted_and_uncut(env: Settings, tmp_path: Path) -> None:
    question = "What are the best venues in Texas for rock concerts?"
    runner = CliRunner()
    result = runner.invoke(app, ["ask", question, "--session", "t1"])
    assert result.exit_code == 0, result.output
    raw = json.loads(runner.invoke(app, ["ask", question, "--json"]).stdout)
    table = raw["tables"][0]
    assert "sell_through" in table["columns"] and "gross_per_event" in table["columns"]
    out = result.stdout
    assert len(re.findall(r"sell.through", out)) == 1, out  # one table, not markdown + rich
    assert "…" not in out, out  # no cell or header cut at 80 columns
    first = dict(zip(table["columns"], table["rows"][0], strict=True))
    line = [line for line in out.splitlines() if first["venue"] in line][-1]  # the table's row
    assert f"{first['sell_through']:.0%}" in line, line
    assert re.search(r"\$[\d,.]+K?", line), line
    assert str(first["sell_through"]) not in line and str(first["gross_per_event"]) not in line


def test_chat_asks_before_a_write_and_does_it_on_yes(env: Settings) -> None:
    typed = "Run the pipeline now\nno\nRun the pipeline now\ny\n/quit\n"
    result = CliRunner().invoke(app, ["chat", "--session", "c1"], input=typed)
    assert result.exit_code == 0, result.output
    said = " ".join(result.stdout.split())
    assert "needs_confirmation" not in said and "confirm=true" not in said
    assert said.count("Go ahead? [y/N]") == 2, said
    no, yes = said.split("Go ahead? [y/N]")[1:]
    assert "Cancelled: nothing was changed." in no and "Done" not in no
    # only a confirmed call runs the steps: unconfirmed, the tool answers what it would do
    assert "Done" in yes and "no files in" in yes, yes


def test_placeholders_in_an_answer_are_printed(env: Settings) -> None:
    result = CliRunner().invoke(app, ["ask", "please juggle the moon", "--session", "p1"])
    assert result.exit_code == 0, result.output
    assert "outside what I understand" in " ".join(result.stdout.split())
    assert "Tell me about <artist>" in result.stdout, result.stdout  # not dropped as HTML
