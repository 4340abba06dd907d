"""Follow-ups that name a dimension of the semantic layer group the session's last query anew:
"and by X" adds X, "by X instead" / "now by X" replaces the grouping; the measures, filters and
dates stay, and the answer says what changed. Raw SQL, which cannot be regrouped, is asked anew
by the dimension named, with its measure."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from agent.service import AgentService

OUTSIDE = "outside what I understand"
YEAR_2024 = {"start": "2024-01-01", "end": "2024-12-31"}


def test_and_by_adds_instead_and_now_by_replace_the_grouping(
    make_service: Callable[..., AgentService],
) -> None:
    service = make_service("offline", user="regroup", session="regroup")
    first = asyncio.run(service.ask("Tickets sold by state in 2024"))
    assert first.tool_calls[-1].input["dimensions"] == ["state"], first.answer

    added = asyncio.run(service.ask("and by age band?"))
    query = added.tool_calls[-1]
    assert query.name == "semantic_query", added.answer
    assert query.input["dimensions"] == ["state", "age_band"], query.input
    assert query.input["measures"] == ["tickets_sold"]
    assert query.input["time_range"] == YEAR_2024
    assert "age band added" in added.answer, added.answer
    # the age band moves the tickets from the concert results to the transactions: said once
    assert "Age band exists only in the ticket transactions" in added.answer, added.answer
    assert "| state | age_band | tickets_sold |" in added.answer, added.answer

    replaced = asyncio.run(service.ask("by channel instead"))
    query = replaced.tool_calls[-1]
    assert OUTSIDE not in replaced.answer, replaced.answer
    assert query.input["dimensions"] == ["channel"], query.input
    assert query.input["time_range"] == YEAR_2024
    assert "now by channel instead of state and age band" in replaced.answer, replaced.answer
    assert "| channel | tickets_sold |" in replaced.answer
    assert "these totals do not compare with the last answer's" not in replaced.answer, (
        "state and age band were both read from the transactions already"
    )

    monthly = asyncio.run(service.ask("now by month"))
    query = monthly.tool_calls[-1]
    assert query.input["dimensions"] == ["month"], query.input
    assert query.input["order_by"] == [{"field": "month", "descending": False}]
    assert query.input["time_range"] == YEAR_2024
    assert "now by month instead of channel" in monthly.answer, monthly.answer
    # the months come from the concert results again, not the transactions channel needs
    assert "from the concert results again" in monthly.answer, monthly.answer
    months = [str(row[0]) for row in monthly.tables[-1].rows]
    assert months[0].startswith("2024-01") and months[-1].startswith("2024-12"), months


def test_regrouping_keeps_the_filters_and_takes_a_new_place(
    make_service: Callable[..., AgentService],
) -> None:
    service = make_service("offline", user="regroup", session="filters")
    asyncio.run(service.ask("Revenue by venue type for rock in 2024"))
    turn = asyncio.run(service.ask("and by month for Texas"))
    query = turn.tool_calls[-1]
    assert query.input["measures"] == ["gross_revenue"], query.input
    assert query.input["dimensions"] == ["venue_type", "month"], query.input
    filters = {(f["field"], f["value"]) for f in query.input["filters"]}
    assert filters == {("genre", "rock"), ("state", "TX")}, query.input
    assert query.input["time_range"] == YEAR_2024
    assert "for genre rock and state TX, in 2024" in turn.answer, turn.answer


def test_after_the_partner_fallback_and_by_state_regroups_the_question_asked(
    make_service: Callable[..., AgentService],
) -> None:
    """The fans counted in place of tickets by age band (the partner may not link sales to
    buyers) answer the turn; "and by state?" regroups the tickets asked for, not the count."""
    partner = make_service("offline", user="regroup-partner", session="fallback", role="partner")
    first = asyncio.run(partner.ask("Tickets sold by age band in 2024"))
    assert first.tool_calls[-1].name == "run_sql", first.answer
    turn = asyncio.run(partner.ask("and by state?"))
    last = turn.tool_calls[-1]
    assert OUTSIDE not in turn.answer, turn.answer
    assert last.name == "semantic_query" and last.input["dimensions"] == ["state"], last.input
    assert last.input["measures"] == ["tickets_sold"]
    assert last.input["time_range"] == YEAR_2024
    assert "leaves out the buyers' age band" in turn.answer, turn.answer
    assert "| state | tickets_sold |" in turn.answer, turn.answer
    # the lead says the grouping that answered, not the one the role could not run; and no
    # totals to compare with (fans were counted before, not the transactions)
    assert turn.answer.startswith("Tickets sold, in 2024, now by state instead of age band.")
    assert "totals differ" not in turn.answer, turn.answer

    narrowed = asyncio.run(partner.ask("what about 2023?"))
    last = narrowed.tool_calls[-1]
    assert OUTSIDE not in narrowed.answer, narrowed.answer
    assert last.input["dimensions"] == ["state"], last.input
    assert last.input["time_range"] == {"start": "2023-01-01", "end": "2023-12-31"}


def test_raw_sql_is_asked_anew_by_the_dimension_named(
    make_service: Callable[..., AgentService],
) -> None:
    service = make_service("offline", user="regroup", session="sql")
    asyncio.run(service.ask("run sql: SELECT count(*) AS concerts FROM concerts"))
    turn = asyncio.run(service.ask("and by state?"))
    last = turn.tool_calls[-1]
    assert OUTSIDE not in turn.answer, turn.answer
    assert last.name == "semantic_query", turn.answer
    assert (last.input["measures"], last.input["dimensions"]) == (["concerts"], ["state"])
    assert "came from SQL, which I can't regroup" in turn.answer, turn.answer
    assert "| state | concerts |" in turn.answer


def test_fans_counted_by_their_own_columns_are_counted_again_by_another(
    make_service: Callable[..., AgentService],
) -> None:
    partner = make_service("offline", user="regroup-partner", session="fans", role="partner")
    asyncio.run(partner.ask("How many fans are in each age band?"))
    turn = asyncio.run(partner.ask("and by country?"))
    last = turn.tool_calls[-1]
    assert last.name == "run_sql", turn.answer
    assert "age_band AS age_band, country AS country" in last.input["sql"], last.input
    assert "| age_band | country | fans |" in turn.answer, turn.answer
    assert "country added" in turn.answer
