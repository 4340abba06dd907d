"""Table columns the offline planner prints read in one unit each: money in the unit of the
column's largest amount."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

import pytest

from agent.planner.composer import markdown
from agent.service import AgentService, TurnResult
from core.settings import Settings
from tests.conftest import query_warehouse


@pytest.fixture
def ask(make_service: Callable[..., AgentService]) -> Callable[[str], TurnResult]:
    service = make_service("offline", user="units-user")
    return lambda text: asyncio.run(service.ask(text))


def _column(text: str, name: str) -> list[str]:
    lines = [line for line in text.splitlines() if line.startswith("|")]
    at = [c.strip() for c in lines[0].strip("|").split("|")].index(name)
    return [line.strip("|").split("|")[at].strip() for line in lines[2:]]


def test_a_money_column_takes_its_unit_from_its_largest_amount() -> None:
    table = {"columns": ["venue", "gross_revenue"], "rows": [["A", 2_150_000.0], ["B", 93_300.0]]}
    assert _column(markdown(table), "gross_revenue") == ["$2.15M", "$0.09M"]
    thousands = {"columns": ["venue", "gross"], "rows": [["A", 45_000.0], ["B", 800.0]]}
    assert _column(markdown(thousands), "gross") == ["$45.0K", "$0.8K"]


def test_an_artist_s_concerts_show_gross_in_one_unit(
    small_warehouse: Settings, ask: Callable[[str], TurnResult]
) -> None:
    """The artist whose concerts' grosses span the most (thousands to hundreds of thousands)."""
    [(artist, largest)] = query_warehouse(
        small_warehouse,
        "SELECT a.name, max(p.gross_revenue) FROM concert_performance p JOIN artists a "
        "USING (artist_id) WHERE p.status = 'completed' AND a.name NOT ILIKE '% and %' "
        "GROUP BY a.name HAVING count(*) BETWEEN 2 AND 20 "
        "ORDER BY max(p.gross_revenue) / min(p.gross_revenue) DESC, a.name LIMIT 1",
    )
    cells = _column(ask(f"Tell me about {artist}").answer, "gross_revenue")
    units = {re.sub(r"[\d.,$]", "", cell) for cell in cells}
    assert len(cells) >= 2 and len(units) == 1, cells
    assert units == ({"M"} if float(largest) >= 1e6 else {"K"} if float(largest) >= 1e4 else {""})  # type: ignore[arg-type]
