"""The parts behind an answer's table and buttons, without a browser: the markdown table left out
where a grid shows it (and never half-streamed), and the turn results kept in the history file."""

from __future__ import annotations

import asyncio
import sqlite3

from agent.planner.composer import markdown
from agent.ui import render
from agent.ui.config import history_db
from agent.ui.history import data_layer, turn_store
from core.settings import Settings
from tools.results import Table

TABLE = Table(columns=["year", "tickets_sold"], rows=[[2020 + i, 1000 * i] for i in range(12)])
ANSWER = (
    "12 rows; the first: year 2020.\n\n"
    + markdown(TABLE.model_dump())
    + "\n\nSQL used:\n```sql\nSELECT year, sum(tickets_sold) FROM sales GROUP BY 1\n```"
)


def test_a_table_shown_as_a_grid_leaves_the_text_with_its_prose() -> None:
    text = render.without_tables(ANSWER, [TABLE])
    assert "|" not in text and "more rows" not in text
    assert text.startswith("12 rows; the first: year 2020.\n\nSQL used:")
    assert "SELECT year" in text


def test_a_markdown_table_without_a_grid_stays() -> None:
    other = Table(columns=["venue", "concerts"], rows=[["Hall", 3]])
    assert render.without_tables(ANSWER, [other]) == ANSWER
    # the composer's own headers match the grid loosely (case, `_` or space)
    assert "| year |" not in render.without_tables(
        ANSWER.replace("tickets_sold |", "Tickets Sold |"), [TABLE]
    )


def test_streaming_never_shows_part_of_a_table_and_only_grows() -> None:
    shown = ""
    for end in range(len(ANSWER) + 1):  # the answer arriving a character at a time
        now = render.streamable(ANSWER[:end])
        assert now.startswith(shown), (end, shown, now)
        assert "|" not in now and "more rows" not in now
        shown = now
    assert "12 rows; the first" in shown and "SQL used:" in shown


def test_chart_choice_draws_a_measure_over_time_as_a_line() -> None:
    assert render.chart_choice(TABLE) == {"kind": "line", "x": "year", "y": "tickets_sold"}
    cities = Table(columns=["city", "tickets"], rows=[["Austin", 10]])
    assert render.chart_choice(cities) == {"kind": "bar", "x": "city", "y": "tickets"}


def test_turn_results_are_kept_for_their_user_and_thread_and_go_with_the_thread(
    settings: Settings,
) -> None:
    store = turn_store(settings)
    kept = {"thread_id": "th-1", "user": "ana"}
    store.save("t1", message_id="m1", sql=["SELECT 1"], tables=[TABLE], **kept)
    store.save("t2", message_id="m2", sql=["SELECT 2"], tables=[], **kept)
    again = turn_store(settings).get("t1", thread_id="th-1", user="ana")  # as after a restart
    assert again is not None and again.tables == [TABLE] and again.sql == ["SELECT 1"]
    assert store.get("t1", thread_id="th-1", user="bob") is None  # a forged payload gets nothing
    assert store.get("t1", thread_id="th-2", user="ana") is None
    assert [t.message_id for t in store.of_thread("th-1", user="ana")] == ["m1", "m2"]

    async def delete_thread() -> None:
        layer = data_layer(settings)
        await layer.update_thread("th-1", name="first")
        await layer.delete_thread("th-1")

    asyncio.run(delete_thread())
    assert store.of_thread("th-1", user="ana") == []
    with sqlite3.connect(history_db(settings)) as con:
        assert con.execute("SELECT count(*) FROM encore_turns").fetchone()[0] == 0
