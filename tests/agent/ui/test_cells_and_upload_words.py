"""The grid's cell text and which upload messages are only "load this": fast checks of the rules
the browser tests exercise once (tests/agent/ui/test_write_confirmation.py)."""

from __future__ import annotations

import pytest

from agent.ui.cells import display_rows
from agent.ui.chat import only_asks_to_load
from tools.results import Table


def test_cells_read_as_the_answers_text_does() -> None:
    table = Table(
        columns=["rank", "venue", "year", "sell_through", "gross", "avg_ticket_price", "capacity"],
        rows=[
            [1, "The Liberty", 2025, 0.913, 75730.05, 45.5, 12000],
            [2, "Cypress Lounge", 2024, 0.7, 142100.0, 120.0, 360],
            [3, None, 2023, None, None, None, None],
        ],
    )
    assert display_rows(table) == [
        ["1", "The Liberty", "2025", "91%", "$76K", "$45.50", "12,000"],
        ["2", "Cypress Lounge", "2024", "70%", "$142K", "$120.00", "360"],
        ["3", "", "2023", "", "", "", ""],
    ]


def test_a_rate_that_is_not_a_fraction_stays_a_number() -> None:
    table = Table(columns=["growth_rate", "trend"], rows=[[12.5, 1.024]])
    assert display_rows(table) == [["12.50", "1.02"]]


@pytest.mark.parametrize(
    "text",
    ["", "please load this file", "Load sales_new.csv", "ingest these into the warehouse please",
     "can you import the attached csv?", "upload it, thanks"],
)  # fmt: skip
def test_messages_that_only_ask_to_load(text: str) -> None:
    assert only_asks_to_load(text, ["sales_new.csv"])


@pytest.mark.parametrize(
    "text",
    ["thanks", "load this and show me the top venues", "what is in this file?",
     "load this file then chart tickets by year"],
)  # fmt: skip
def test_messages_that_ask_more(text: str) -> None:
    assert not only_asks_to_load(text, ["sales_new.csv"])
