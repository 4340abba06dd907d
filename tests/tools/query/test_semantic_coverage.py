"""Answers from ticket transactions say how much of the business they cover.

Transactions exist for a few of the small demo's concerts; box scores give the rest. Tickets by
channel or revenue by price tier read only the transactions, so the result carries `coverage`:
concerts and tickets in transactions against all results, for the same filters and dates. An
answer from concert results (tickets by state) covers every concert and carries none.
"""

from __future__ import annotations

import pytest

from core.settings import Settings
from tests.conftest import query_warehouse
from tools.context import ToolContext
from tools.query.semantic import semantic_query
from tools.query.semantic_model import Filter, TimeRange


def _count(value: int) -> str:
    return f"{value / 1e6:.1f}M" if value >= 1e6 else f"{value:,}"


def _scope(settings: Settings, where: str, sales_where: str = "TRUE") -> tuple[int, ...]:
    """Completed concerts and tickets in transactions, then in all results, counted directly."""
    [(covered_concerts, covered_tickets)] = query_warehouse(
        settings,
        "SELECT count(DISTINCT c.concert_id) FILTER (WHERE c.status = 'completed'), "
        "sum(s.quantity) FROM ticket_sales s JOIN concerts c USING (concert_id) "
        f"JOIN venues v USING (venue_id) WHERE {where} AND {sales_where}",
    )
    [(concerts, tickets)] = query_warehouse(
        settings,
        "SELECT count(*) FILTER (WHERE c.status = 'completed'), sum(c.tickets_sold) "
        f"FROM concert_performance c JOIN venues v USING (venue_id) WHERE {where}",
    )
    return tuple(int(v or 0) for v in (covered_concerts, covered_tickets, concerts, tickets))


def _sentence(counts: tuple[int, ...], source: str = "ticket transactions") -> str:
    covered_concerts, covered_tickets, concerts, tickets = counts
    return (
        f"From {source}, which cover {covered_concerts:,} of {concerts:,} completed concerts "
        f"({_count(covered_tickets)} of {_count(tickets)} tickets)."
    )


@pytest.fixture
def analyst(query_settings: Settings) -> ToolContext:
    return ToolContext(query_settings, role="analyst")


def test_tickets_by_channel_say_what_the_transactions_cover(
    analyst: ToolContext, query_settings: Settings
) -> None:
    result = semantic_query(analyst, measures=["tickets_sold"], dimensions=["channel"])
    counts = _scope(query_settings, "TRUE")
    assert counts[0] < counts[2], "the small demo has transactions for only some concerts"
    coverage = result.coverage
    assert coverage is not None
    assert (coverage.concerts_covered, coverage.tickets_covered) == counts[:2]
    assert (coverage.concerts, coverage.tickets) == counts[2:]
    assert sum(int(r[1]) for r in result.rows) == coverage.tickets_covered  # what it answered from
    assert coverage.note == _sentence(counts)


def test_tickets_by_state_cover_every_concert_and_say_nothing(analyst: ToolContext) -> None:
    result = semantic_query(analyst, measures=["tickets_sold"], dimensions=["state"])
    assert result.rows and result.coverage is None


def test_coverage_follows_the_answers_filters_and_dates(
    analyst: ToolContext, query_settings: Settings
) -> None:
    [(state, year)] = query_warehouse(
        query_settings,
        "SELECT v.state, year(c.event_date) FROM ticket_sales s JOIN concerts c "
        "USING (concert_id) JOIN venues v USING (venue_id) WHERE v.state IS NOT NULL "
        "GROUP BY ALL ORDER BY count(DISTINCT c.concert_id) DESC, 1, 2 LIMIT 1",
    )
    result = semantic_query(
        analyst,
        measures=["gross_revenue"],
        dimensions=["price_tier"],
        filters=[
            Filter(field="state", value=state),
            Filter(field="channel", op="in", value=["web", "mobile"]),
        ],
        time_range=TimeRange(start=f"{year}-01-01", end=f"{year}-12-31"),
    )
    where = (
        f"v.state = '{state}' AND c.event_date BETWEEN DATE '{year}-01-01' AND DATE '{year}-12-31'"
    )
    counts = _scope(query_settings, where)  # the channel narrows the answer, not its concerts
    assert result.coverage is not None and result.coverage.note == _sentence(counts)
    assert counts[2] < _scope(query_settings, "TRUE")[2]


def test_a_partners_coverage_counts_only_the_sales_the_partner_may_read(
    query_settings: Settings,
) -> None:
    partner = ToolContext(query_settings, role="partner")
    result = semantic_query(partner, measures=["tickets_sold"], dimensions=["price_tier"])
    counts = _scope(query_settings, "TRUE", "s.channel = 'partner'")
    assert result.coverage is not None
    assert result.coverage.tickets_covered == sum(int(r[1]) for r in result.rows) == counts[1]
    assert result.coverage.note == _sentence(
        counts, "the ticket transactions role partner may read"
    )


def test_beside_concert_results_the_sentence_names_what_came_from_transactions(
    analyst: ToolContext, query_settings: Settings
) -> None:
    result = semantic_query(analyst, measures=["tickets_sold", "fans"])
    counts = _scope(query_settings, "TRUE")
    [(fans,)] = query_warehouse(query_settings, "SELECT count(DISTINCT fan_id) FROM ticket_sales")
    assert result.rows == [[counts[3], fans]]  # tickets from every concert, fans from sales
    assert result.coverage is not None
    assert result.coverage.note == "Fans come " + _sentence(counts).replace("From", "from", 1)
