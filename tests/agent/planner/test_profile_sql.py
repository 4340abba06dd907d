"""An artist profile's "SQL used" is the query behind the table the answer shows (audit C5):
run as printed, it returns that table's columns and rows."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from core.settings import Settings
from tests.agent.planner.test_demo_conversations import make_agent, query_warehouse, run


def _tables(answer: str) -> list[list[list[str]]]:
    """The markdown tables in an answer, each as rows of cells (the header first)."""
    tables: list[list[list[str]]] = []
    previous = False
    for line in answer.splitlines():
        row = line.strip().startswith("|")
        if row and not re.fullmatch(r"\|(-+\|)+", line.strip()):
            if not previous:
                tables.append([])
            tables[-1].append([c.strip() for c in line.strip().strip("|").split("|")])
        previous = row
    return tables


def test_profile_sql_returns_the_table_shown(trained: Settings, vocab: Any, tmp_path: Path) -> None:
    # the artist who played the most venues: top venues and history differ most for them
    # (a name with " and " in it is not recognised by the planner yet, a separate gap)
    name = query_warehouse(
        trained,
        "SELECT a.name FROM concert_performance p JOIN artists a USING (artist_id) "
        "WHERE p.status = 'completed' AND a.name NOT ILIKE '% and %' GROUP BY a.name "
        "ORDER BY count(DISTINCT p.venue_id) DESC, count(*) DESC, a.name LIMIT 1",
    )[0]["name"]
    answer, calls = run(make_agent(trained, vocab, tmp_path), f"Tell me about {name}")
    assert [c["name"] for c in calls] == ["artist_profile"], answer
    blocks = re.findall(r"SQL used[^\n]*:\n```sql\n(.*?)\n```", answer, re.DOTALL)
    tables = _tables(answer)
    assert len(blocks) == 1 and len(tables) == 1, answer
    [header, *rows] = tables[0]
    ran = query_warehouse(trained, blocks[0])
    assert header == list(ran[0]), answer
    assert len(rows) == len(ran), "the table shows every row its SQL returns"
    shown = [(r[header.index("event_date")], r[header.index("venue")]) for r in rows]
    assert shown == [(str(r["event_date"]), r["venue"]) for r in ran]
    # the summary's numbers are the artist's completed concerts, as the warehouse has them
    total = query_warehouse(
        trained,
        "SELECT sum(tickets_sold) AS t FROM concert_performance p JOIN artists a "
        f"USING (artist_id) WHERE a.name = '{name}' AND p.status = 'completed'",
    )[0]["t"]
    assert f"{total:,} tickets sold" in answer
