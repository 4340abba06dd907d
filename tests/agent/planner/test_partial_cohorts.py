"""A cohort answer whose extract the role's row cap cut says so once, not in its lead and again
under it."""

from __future__ import annotations

import asyncio
import re

import duckdb

from agent.service import AgentService
from core.settings import Settings
from tests.conftest import query_warehouse

_CAP = 5_000  # the analyst's row cap (tools/query/policy.yaml)


def test_a_cohort_answer_cut_by_the_row_cap_says_so_once(
    private_service: tuple[Settings, AgentService],
) -> None:
    """Fans who each start buying in a later month of a long stretch and buy every month after
    give more (cohort, month) pairs than the analyst's cap, though the template counts in SQL."""
    settings, service = private_service
    months = 1
    while months * (months + 1) // 2 <= _CAP:  # fan i buys in months i .. months-1
        months += 1
    with duckdb.connect(str(settings.warehouse_file)) as con:
        con.execute(
            "INSERT INTO ticket_sales SELECT s.* REPLACE (s.sale_id || '~' || f.i || '~' || m.j "
            "AS sale_id, f.fan_id AS fan_id, TIMESTAMP '2000-01-15 12:00:00' + "
            "to_months(CAST(m.j AS INTEGER)) AS sold_at) "
            "FROM (SELECT * FROM ticket_sales ORDER BY sale_id LIMIT 1) s, "
            "(SELECT fan_id, row_number() OVER (ORDER BY fan_id) - 1 AS i FROM fans) f, "
            "range(?) m(j) WHERE f.i < ? AND m.j >= f.i",
            [months, months],
        )
    [(pairs,)] = query_warehouse(  # the rows of the template's extract
        settings,
        "WITH m AS (SELECT DISTINCT fan_id, strftime(sold_at, '%Y-%m') AS month "
        "FROM ticket_sales WHERE fan_id IS NOT NULL), "
        "f AS (SELECT fan_id, min(month) AS cohort FROM m GROUP BY 1) "
        "SELECT count(DISTINCT (cohort, month)) FROM m JOIN f USING (fan_id)",
    )
    assert int(pairs) > _CAP  # type: ignore[call-overload]
    answer = asyncio.run(service.ask("Fan retention by cohort")).answer
    assert answer.startswith("Fan retention by cohort"), answer
    said = [p for p in answer.split("\n\n") if re.search(r"row cap|partial data", p, re.I)]
    assert len(said) == 1, answer
    assert "only part of the data" in said[0], said
