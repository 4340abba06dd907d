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


def test_month_over_month_change_reads_as_a_signed_percent(
    small_warehouse: Settings, ask: Callable[[str], TurnResult]
) -> None:
    first, second = query_warehouse(
        small_warehouse,
        "SELECT strftime(event_date, '%Y-%m') AS month, sum(tickets_sold) AS t "
        "FROM concert_performance WHERE status = 'completed' GROUP BY 1 ORDER BY 1 LIMIT 2",
    )
    change = round((float(second[1]) / float(first[1]) - 1) * 100, 1)  # type: ignore[arg-type]
    answer = ask("Write Python to compute month-over-month growth in tickets sold").answer
    cells = _column(answer, "change_pct")
    assert cells[:2] == ["", f"{change:+,.1f}%"]
    assert all(re.fullmatch(r"[+-]\d[\d,]*\.\d%", c) for c in cells[1:]), cells


def test_cohort_retention_reads_as_percents(
    small_warehouse: Settings, ask: Callable[[str], TurnResult]
) -> None:
    [(cohort, size, back)] = query_warehouse(
        small_warehouse,
        """
        WITH bought AS (
            SELECT DISTINCT fan_id, year(sold_at) * 12 + month(sold_at) AS m,
                   strftime(sold_at, '%Y-%m') AS month
            FROM ticket_sales WHERE fan_id IS NOT NULL),
        firsts AS (SELECT fan_id, min(m) AS cohort, min(month) AS label FROM bought GROUP BY 1)
        SELECT f.label, count(DISTINCT f.fan_id), count(DISTINCT b.fan_id)
        FROM firsts f LEFT JOIN bought b ON b.fan_id = f.fan_id AND b.m = f.cohort + 1
        GROUP BY f.label ORDER BY f.label LIMIT 1
        """,
    )
    answer = ask("Analyse fan retention by cohort").answer
    assert _column(answer, "cohort")[0] == cohort
    assert _column(answer, "0")[0] == "100%"
    assert _column(answer, "1")[0] == (f"{int(back) / int(size):.0%}" if back else "")  # type: ignore[call-overload]
    cells = [c for name in ("1", "2") for c in _column(answer, name) if c]
    assert cells and all(re.fullmatch(r"\d{1,3}%", c) for c in cells), cells
