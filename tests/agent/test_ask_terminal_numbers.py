"""`encore ask`'s tables in a terminal: a column of numbers is right-aligned even when its first
cell is empty (the first month has no change), and a money column reads in the unit the answer's
markdown table and lead sentence give it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from rich.console import Console
from typer.testing import CliRunner

from agent.build import close_mcp_clients
from agent.commands import app, render_table
from agent.formatting import markdown
from core.settings import Settings
from tests.agent.conftest import offline_cli
from tests.conftest import copy_warehouse
from tools.results import Table


@pytest.fixture(scope="module")
def data(small_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = copy_warehouse(small_warehouse, tmp_path_factory.mktemp("ask-numbers"))
    yield settings
    close_mcp_clients()


@pytest.fixture
def env(data: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    return offline_cli(monkeypatch, data)


def test_a_change_column_is_right_aligned_though_its_first_cell_is_empty(env: Settings) -> None:
    result = CliRunner().invoke(app, ["ask", "Month-over-month growth in tickets sold"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    header = next(line for line in lines if re.search(r"\bchange pct\s*$", line))
    rows = [line.rstrip() for line in lines if re.match(r"\s*\d{4}-\d{2}\s", line)]
    changes = [row for row in rows if row.endswith("%")]
    assert rows and not rows[0].endswith("%"), rows  # the first month: no change to show
    assert len({len(row.split()[-1]) for row in changes}) > 1, changes  # "+5.8%", "-48.2%"
    # right-aligned: every change ends where the header does, whatever its length
    assert {len(row) for row in changes} == {len(header.rstrip())}, "\n".join([header, *rows])


def test_a_money_column_reads_in_one_unit_with_the_answer_s_table() -> None:
    """A gross of $4,000 in the 15th row (of the terminal's 20, not the markdown's 10) sets the
    column's decimals in both, as it does in the chat UI's grid of every row."""
    rows = [[f"venue {i}", 2_500_000.0 - i * 100_000] for i in range(14)] + [["last", 4_000.0]]
    table = Table(columns=["venue", "gross_revenue"], rows=rows)
    console = Console(width=200, record=True)
    console.print(render_table(table))
    printed = console.export_text()
    answer = markdown({"columns": table.columns, "rows": table.rows})
    for row in [line for line in answer.splitlines() if line.startswith("|")][2:]:
        venue, gross = (cell.strip() for cell in row.strip("|").split("|"))
        line = next(line for line in printed.splitlines() if line.startswith(f"{venue} "))
        assert line.split()[-1] == gross, (line, row)
