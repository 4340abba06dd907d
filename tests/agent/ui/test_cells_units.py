"""The terminal's table cells read as the chat answers' markdown tables: one money unit from a
column's largest amount, a change in percent signed, retention shares and cohort months as
percents; the UI grid keeps those columns numeric in the same unit."""

from __future__ import annotations

from typing import Any

from agent.formatting import markdown, money
from agent.ui import cells, render
from tools.results import Table

# shaped as the offline planner's answers on the demo: month-over-month, cohorts, grosses
_TABLES: list[tuple[list[str], list[list[Any]]]] = [
    (["month", "tickets_sold", "change_pct"],
     [["2023-12", 20652, None], ["2024-01", 85410, 313.6], ["2024-04", 42910, -48.0]]),
    (["cohort", "0", "1", "2"], [["2023-09", 1.0, 0.571, 0.786], ["2023-10", 1.0, 0.45, None]]),
    (["venue", "gross", "retention"],
     [["Oakhaven Field", 2_150_000.0, 0.8], ["The Liberty", 93_300.0, 0.25], ["Gone", 0.0, 0.0]]),
]  # fmt: skip


def _markdown_cells(columns: list[str], rows: list[list[Any]]) -> list[list[str]]:
    lines = markdown({"columns": columns, "rows": rows}, limit=len(rows)).splitlines()[2:]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def test_terminal_cells_match_the_answers_markdown_tables() -> None:
    for columns, rows in _TABLES:
        assert cells.display_rows(Table(columns=columns, rows=rows)) == _markdown_cells(
            columns, rows
        )


def test_terminal_reads_changes_shares_and_money_as_people_do() -> None:
    change, cohort, money = (cells.display_rows(Table(columns=c, rows=r)) for c, r in _TABLES)
    assert [row[2] for row in change] == ["", "+313.6%", "-48.0%"]
    assert cohort[0][1:] == ["100%", "57%", "79%"]
    assert [row[1:] for row in money] == [["$2.15M", "80%"], ["$0.09M", "25%"], ["$0", "0%"]]


def test_grid_keeps_changes_and_cohort_shares_numeric_in_percent() -> None:
    change = render.table_frame(Table(columns=_TABLES[0][0], rows=_TABLES[0][1]))
    assert list(change.columns) == ["month", "tickets_sold", "change_pct (%)"]
    assert change["change_pct (%)"].tolist()[1:] == [313.6, -48.0]
    cohort = render.table_frame(Table(columns=_TABLES[1][0], rows=_TABLES[1][1]))
    assert list(cohort.columns) == ["cohort", "0 (%)", "1 (%)", "2 (%)"]
    assert cohort.iloc[0].tolist()[1:] == [100.0, 57.1, 78.6]
    money = render.table_frame(Table(columns=_TABLES[2][0], rows=_TABLES[2][1]))
    assert money["gross ($M)"].tolist() == [2.15, 0.09, 0.0]


def test_grid_keeps_small_amounts_beside_millions_above_nothing() -> None:
    # the California ranking of the demo: $3.07M beside a small club's $2,100 a night
    table = Table(
        columns=["venue", "gross_per_event"], rows=[["Field", 3_066_058.49], ["Lounge", 2100.0]]
    )
    frame = render.table_frame(table)
    assert list(frame.columns) == ["venue", "gross_per_event ($M)"]
    small, large = sorted(frame["gross_per_event ($M)"].tolist())
    assert 0 < small < large


def test_a_small_amount_beside_millions_keeps_its_figures() -> None:
    # one unit per column, but $4,275 next to $2.15M must not read as nothing ($0.00M)
    assert money(4_275, 2_150_000, 4_275) == "$0.004M"
    assert money(2_150_000, 2_150_000, 4_275) == "$2.150M"
    assert money(21, 14_200, 21) == "$0.02K"  # not $0.0K
    assert money(93_300, 2_150_000, 93_300) == "$0.09M"  # the usual case is unchanged
