"""A ranking grid in the chat page reads as the answer's text does (91.3 under "sell_through (%)",
not 0.913) and a header click sorts it by the numbers (43,610 above 930), on the real agent in a
browser over the shared `encore ui` of the session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from agent.ui import cells, render
from tests.agent.ui.conftest import App, signed_in
from tests.agent.ui.test_chat_page import DATAFRAME, ask
from tools.results import Table


@pytest.fixture(scope="module")
def page(ui_app: App, browser: Any) -> Iterator[Any]:
    with signed_in(ui_app, browser) as tab:
        yield tab


def _column(grid: Any, index: int) -> list[str]:
    rows = grid.locator("tbody tr")
    return [rows.nth(i).locator("td").nth(index).inner_text() for i in range(rows.count())]


def _number(text: str) -> float:
    return float(text.replace(",", "").strip("$%KM"))


@pytest.mark.browser
def test_ranking_grid_reads_as_the_answer_and_sorts_by_number(page: Any) -> None:
    answer, _ = ask(page, "What are the best venues in California?")
    grid = answer.locator(DATAFRAME)
    expect(grid).to_have_count(1, timeout=30_000)
    headers = [h.strip() for h in grid.locator("thead th").all_inner_texts()]
    # the unit is in the header, the cell is the number in that unit
    assert "sell_through (%)" in headers, headers
    shares = [float(c) for c in _column(grid, headers.index("sell_through (%)"))]
    assert shares and all(1 < s <= 100 for s in shares), shares  # 91.3, not 0.913
    gross = next(h for h in headers if h.startswith("gross_per_event ($"))
    assert all(float(c) > 0 for c in _column(grid, headers.index(gross)))

    capacity = headers.index("capacity")
    before = _column(grid, capacity)
    # venues of 3 to 5 digits: text order and number order differ, so the check below can fail
    assert sorted(before) != sorted(before, key=_number), before
    header = grid.locator("thead th").nth(capacity)
    header.click()
    first = [_number(c) for c in _column(grid, capacity)]
    header.click()
    second = [_number(c) for c in _column(grid, capacity)]
    assert first == sorted(first, reverse=True), first
    assert second == sorted(second), second


def test_grid_frame_keeps_numbers_in_the_answers_units() -> None:
    # as the California ranking of the small demo: what the audit saw raw (0.913, 75730.05)
    table = Table.from_rows(
        ["venue", "capacity", "sell_through", "gross_per_event", "gross", "price"],
        [("The Liberty", 1810, 0.913, 75730.05, 3_066_058.49, 44.5),
         ("Oakhaven Bancorp Field", 43610, 0.712, 3066058.49, 2_000_000.0, 120.0)],
    )  # fmt: skip
    frame = render.table_frame(table)
    readings = cells.display_rows(table)[0]  # how the terminal reads the first row
    assert readings[2:] == ["91%", "$0.08M", "$3.1M", "$44.50"]  # one unit, the largest's
    assert list(frame.columns) == [
        "venue", "capacity", "sell_through (%)", "gross_per_event ($M)", "gross ($M)", "price ($)",
    ]  # fmt: skip
    assert frame.iloc[0].tolist() == ["The Liberty", 1810, 91.3, 0.08, 3.1, 44.5]
    assert (
        render.table_csv(table).decode().splitlines()[1].endswith("0.913,75730.05,3066058.49,44.5")
    )
