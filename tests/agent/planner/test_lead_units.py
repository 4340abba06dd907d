"""An answer's lead sentence gives its amounts as the table under it shows them: the same unit
and decimals as the column ($0.7M beside $1.0M, not $707K), whichever rows the table shows."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

import pytest

from agent.formatting import markdown, units
from agent.planner.composer import compose
from agent.planner.state import Call
from agent.service import AgentService


@pytest.fixture
def ask(make_service: Callable[..., AgentService]) -> Callable[[str], str]:
    service = make_service("offline", user="lead-units")
    return lambda text: asyncio.run(service.ask(text)).answer


def _column(answer: str, name: str) -> list[str]:
    lines = [line for line in answer.splitlines() if line.startswith("|")]
    at = [c.strip() for c in lines[0].strip("|").split("|")].index(name)
    return [line.strip("|").split("|")[at].strip() for line in lines[2:]]


def test_a_ranking_s_lead_reads_its_amounts_as_the_table_does(ask: Callable[[str], str]) -> None:
    answer = ask("Which genres had the lowest gross revenue?")  # thousands beside millions
    lead = re.match(r".+? has the least gross revenue \((\S+)\), then .+? \((\S+)\);", answer)
    assert lead is not None, answer
    assert list(lead.groups()) == _column(answer, "gross_revenue")[:2], answer


def test_a_first_row_lead_reads_its_amount_as_the_table_does(ask: Callable[[str], str]) -> None:
    answer = ask("Gross revenue by month in 2025")
    lead = re.match(r"\d+ rows; the first: month \S+, gross revenue (\S+)\.", answer)
    assert lead is not None, answer
    assert lead.group(1) == _column(answer, "gross_revenue")[0], answer


def test_the_unit_comes_from_every_row_not_only_those_shown() -> None:
    """A gross of $4,000 in the 12th row (the markdown shows 10) still sets the column's
    decimals, as in the terminal's 20 rows and the chat UI's grid of all of them."""
    rows = [[f"venue {i}", 2_500_000.0 - i * 100_000] for i in range(11)] + [["last", 4_000.0]]
    table = {"columns": ["venue", "gross_revenue"], "rows": rows}
    assert units(table)[1] == (2_500_000.0, 4_000.0)
    call = Call(
        "semantic_query",
        {
            "measures": ["gross_revenue"],
            "dimensions": ["venue"],
            "order_by": [{"field": "gross_revenue", "descending": True}],
        },
        result=table,
    )
    answer = compose("data_question", [call], [], None)
    shown = _column(markdown(table), "gross_revenue")
    # $4,000 takes three decimals in $M; the ten rows shown alone ($1.5M and up) would take one
    assert shown[:2] == ["$2.500M", "$2.400M"], shown
    assert answer.startswith(f"Venue 0 has the most gross revenue ({shown[0]}), then venue 1 "), (
        answer
    )
