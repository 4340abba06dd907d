"""Offline answers from a sandbox analysis say so when the role's row cap cut its extract."""

from __future__ import annotations

import asyncio

import duckdb

from agent.service import AgentService
from core.settings import Settings
from tests.conftest import query_warehouse


def test_a_correlation_over_more_concerts_than_the_row_cap_covers_them_all(
    private_service: tuple[Settings, AgentService],
) -> None:
    """Copies of each completed concert put more concerts than the analyst's cap of 5,000 rows
    behind the correlation: it is binned in SQL, so every concert counts and nothing is cut."""
    settings, service = private_service
    [(completed,)] = query_warehouse(
        settings, "SELECT count(*) FROM concert_performance WHERE status = 'completed'"
    )
    copies = 5_000 // int(completed) + 1  # type: ignore[call-overload]
    with duckdb.connect(str(settings.warehouse_file)) as con:
        for k in range(copies):
            con.execute(
                "INSERT INTO concert_performance SELECT * REPLACE (concert_id || ? AS concert_id) "
                "FROM concert_performance WHERE status = 'completed' AND concert_id NOT LIKE '%~%'",
                [f"~{k}"],
            )
    answer = asyncio.run(
        service.ask("Is there a correlation between ticket price and sell-through?")
    ).answer
    assert "Correlation of avg ticket price with sell through" in answer, answer
    assert "Partial data" not in answer and "cut" not in answer, answer
    [(concerts,)] = query_warehouse(
        settings,
        "SELECT count(*) FROM concert_performance WHERE status = 'completed' "
        "AND avg_ticket_price IS NOT NULL AND sell_through IS NOT NULL",
    )
    assert concerts > 5_000 and f"{concerts} concerts: Pearson" in answer, answer  # type: ignore[operator]


def test_a_correlation_within_the_row_cap_reads_as_complete(
    private_service: tuple[Settings, AgentService],
) -> None:
    _settings, service = private_service
    answer = asyncio.run(
        service.ask("Is there a correlation between ticket price and sell-through?")
    ).answer
    assert "Correlation of avg ticket price" in answer and "Partial data" not in answer, answer


def test_fan_cohorts_count_every_fan_when_fan_months_outnumber_the_row_cap(
    private_service: tuple[Settings, AgentService],
) -> None:
    """Copies of the fans' purchases (new fan ids) give more fan-months than the analyst's cap
    of 5,000 rows: the cohort template counts in SQL, so every fan is counted, nothing is cut."""
    settings, service = private_service
    [(fan_months,)] = query_warehouse(
        settings,
        "SELECT count(*) FROM (SELECT DISTINCT fan_id, strftime(sold_at, '%Y-%m') "
        "FROM ticket_sales WHERE fan_id IS NOT NULL)",
    )
    copies = 5_000 // int(fan_months) + 1  # type: ignore[call-overload]
    with duckdb.connect(str(settings.warehouse_file)) as con:
        for k in range(copies):
            con.execute(
                "INSERT INTO ticket_sales SELECT * REPLACE (sale_id || ? AS sale_id, "
                "fan_id || ? AS fan_id) FROM ticket_sales "
                "WHERE fan_id IS NOT NULL AND fan_id NOT LIKE '%~%'",
                [f"~{k}", f"~{k}"],
            )
    [(cohorts, fans)] = query_warehouse(
        settings,
        "SELECT count(DISTINCT first), count(*) FROM (SELECT fan_id, "
        "min(strftime(sold_at, '%Y-%m')) AS first FROM ticket_sales "
        "WHERE fan_id IS NOT NULL GROUP BY 1)",
    )
    answer = asyncio.run(service.ask("Analyse fan retention by cohort")).answer
    assert f"{cohorts} cohorts, {fans} fans" in answer, answer
    assert "Partial data" not in answer and "only part of the data" not in answer
