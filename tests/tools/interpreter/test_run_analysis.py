"""run_analysis on guarded extracts of the small warehouse: code, templates, tables and charts."""

from __future__ import annotations

import pandas as pd
import pytest

from core.errors import QueryRefusedError, ValidationError
from tests.conftest import query_warehouse
from tools.context import ToolContext
from tools.interpreter import (
    AnalysisResult,
    Limits,
    LocalSandbox,
    list_analysis_templates,
    run_analysis,
)
from tools.interpreter.templates import TEMPLATES
from tools.query.policy import load_policy

LIMITS = Limits(wall_s=60, cpu_s=20, memory_mb=1024)


def test_code_on_an_sql_extract_returns_tables_and_charts(ctx: ToolContext) -> None:
    code = (
        "print(len(df))\n"
        "by_type = df.groupby('venue_type', as_index=False)['tickets_sold'].sum()\n"
        "show(by_type)\n"
        "chart('bar', by_type, 'venue_type', 'tickets_sold')\n"
        "result = df.head(3)\n"
    )
    sql = (
        "SELECT v.venue_type, p.tickets_sold FROM concert_performance p "
        "JOIN venues v USING (venue_id) WHERE p.tickets_sold IS NOT NULL"
    )
    result = run_analysis(ctx, code=code, sql=sql, limits=LIMITS)
    assert result.error is None, result.error
    assert int(result.stdout.strip()) > 100
    by_type, head = result.tables
    assert by_type.columns == ["venue_type", "tickets_sold"] and len(head.rows) == 3
    assert sum(r[1] for r in by_type.rows) > 0
    (figure,) = result.charts
    assert figure["data"][0]["type"] == "bar"
    assert figure["layout"]["yaxis"]["title"]["text"] == "Tickets sold"
    assert "net-namespace" in result.isolation or "audit-hook" in result.isolation


def test_templates_are_listed_and_run(ctx: ToolContext) -> None:
    names = {t.name for t in list_analysis_templates(ctx)}
    assert {"summary_stats", "price_vs_sell_through", "month_over_month", "top_n"} <= names
    top = run_analysis(ctx, template="top_n", params={"n": 5}, limits=LIMITS)
    assert top.error is None, top.error
    assert len(top.tables[0].rows) == 5 and top.tables[0].columns[0] == "venue"
    revenue = [row[1] for row in top.tables[0].rows]
    assert revenue == sorted(revenue, reverse=True)
    corr = run_analysis(ctx, template="price_vs_sell_through", limits=LIMITS)
    assert corr.error is None, corr.error
    assert "Pearson r =" in corr.stdout
    assert all(-1 <= row[1] <= 1 for row in corr.tables[0].rows)
    assert corr.charts[0]["data"][0]["type"] == "scatter"


def test_month_over_month_and_cohorts(ctx: ToolContext) -> None:
    mom = run_analysis(ctx, template="month_over_month", limits=LIMITS)
    assert mom.error is None, mom.error
    months = [row[0] for row in mom.tables[0].rows]
    assert months == sorted(months) and "change_pct" in mom.tables[0].columns
    cohorts = run_analysis(ctx, template="fan_cohorts", params={"max_months": 3}, limits=LIMITS)
    assert cohorts.error is None, cohorts.error
    assert cohorts.tables[0].columns[:2] == ["cohort", "0"]
    assert all(row[1] == 1.0 for row in cohorts.tables[0].rows)  # everyone buys in month 0


PER_SALE = (
    "SELECT fan_id, strftime(sold_at, '%Y-%m') AS month FROM ticket_sales WHERE fan_id IS NOT NULL"
)


def test_an_extract_cut_by_the_row_cap_says_so_and_what_to_do(ctx: ToolContext) -> None:
    cap = load_policy().role(ctx.role).max_rows
    ((sales,),) = query_warehouse(ctx.settings, f"SELECT count(*) FROM ({PER_SALE})")
    assert isinstance(sales, int) and sales > cap  # a row per sale does not fit
    cut = run_analysis(ctx, template="fan_cohorts", sql=PER_SALE, limits=LIMITS)
    assert cut.error is None, cut.error
    assert cut.truncated and cut.rows_read == cut.row_cap == cap
    assert cut.note is not None
    assert f"cut at {cap:,} rows, the {ctx.role} role's row cap" in cut.note
    assert "Aggregate in the SQL" in cut.note and "a role with a larger cap" in cut.note
    assert cut.sampled and cut.rows_selected == sales  # a random sample of every sale
    assert f"a random sample of {cap:,} of {sales:,} rows" in cut.note

    whole = run_analysis(ctx, code="print(len(df))", sql="SELECT venue_id FROM venues")
    assert not whole.truncated and whole.note is None
    assert whole.rows_read == whole.rows_selected == int(whole.stdout) and whole.row_cap == cap
    no_extract = run_analysis(ctx, code="print(1)", limits=LIMITS)
    assert no_extract.rows_read is None and not no_extract.truncated


def test_fan_cohorts_counts_in_sql_and_matches_the_row_level_analysis(ctx: ToolContext) -> None:
    """The default extract fits the cap and gives what the code gives on every sale."""
    counted = run_analysis(ctx, template="fan_cohorts", limits=LIMITS)
    assert counted.error is None, counted.error
    assert not counted.truncated and counted.rows_read is not None
    assert counted.rows_read <= load_policy().role(ctx.role).max_rows
    ((cohorts, fans),) = query_warehouse(
        ctx.settings,
        "SELECT count(DISTINCT cohort), count(*) FROM (SELECT fan_id, "
        f"min(month) AS cohort FROM ({PER_SALE}) GROUP BY fan_id)",
    )
    assert counted.stdout.strip() == f"{cohorts} cohorts, {fans} fans"
    assert len(counted.tables[0].rows) == cohorts

    every_sale = pd.DataFrame(query_warehouse(ctx.settings, PER_SALE), columns=["fan_id", "month"])
    template = TEMPLATES["fan_cohorts"]
    for frame in (every_sale, every_sale.drop_duplicates()):  # a row per sale; per fan and month
        row_level = LocalSandbox().run(template.code, frame, template.params, LIMITS)
        assert row_level.error is None, row_level.error
        assert row_level.stdout == counted.stdout
        assert row_level.tables == counted.tables


def test_top_n_sums_by_venue_in_sql_as_it_did_by_concert(ctx: ToolContext) -> None:
    by_venue = run_analysis(ctx, template="top_n", limits=LIMITS)
    by_concert = run_analysis(
        ctx,
        template="top_n",
        sql="SELECT v.name AS venue, v.city, p.tickets_sold, p.gross_revenue "
        "FROM concert_performance p JOIN venues v USING (venue_id) WHERE p.status = 'completed'",
        limits=LIMITS,
    )
    assert by_venue.error is None and by_concert.error is None
    assert not by_concert.truncated  # the small warehouse's concerts fit; larger ones do not
    assert by_venue.rows_read is not None and by_concert.rows_read is not None
    assert by_venue.rows_read < by_concert.rows_read
    ((venues,),) = query_warehouse(
        ctx.settings,
        "SELECT count(DISTINCT venue_id) FROM concert_performance WHERE status = 'completed'",
    )
    assert by_venue.rows_read == venues
    assert [r[0] for r in by_venue.tables[0].rows] == [r[0] for r in by_concert.tables[0].rows]
    for ours, theirs in zip(by_venue.tables[0].rows, by_concert.tables[0].rows, strict=True):
        assert ours[1:] == pytest.approx(theirs[1:], rel=1e-9)


def test_summary_stats_describes_in_sql_as_pandas_does_on_the_rows(ctx: ToolContext) -> None:
    in_sql = run_analysis(ctx, template="summary_stats", limits=LIMITS)
    on_rows = run_analysis(
        ctx,
        template="summary_stats",
        sql="SELECT capacity, tickets_sold, gross_revenue, avg_ticket_price, sell_through "
        "FROM concert_performance WHERE status = 'completed'",
        limits=LIMITS,
    )
    assert in_sql.error is None and on_rows.error is None
    assert not on_rows.truncated and in_sql.rows_read == len(on_rows.tables[0].rows) == 5
    assert in_sql.stdout == on_rows.stdout  # "N rows": the concerts described, not 5
    assert in_sql.tables[0].columns == on_rows.tables[0].columns
    for ours, theirs in zip(in_sql.tables[0].rows, on_rows.tables[0].rows, strict=True):
        assert ours[0] == theirs[0]
        assert ours[1:] == pytest.approx(theirs[1:], rel=1e-8)


def test_bad_requests_are_refused_before_running(ctx: ToolContext) -> None:
    with pytest.raises(ValidationError, match="unknown analysis template"):
        run_analysis(ctx, template="astrology")
    with pytest.raises(ValidationError, match="its parameters: by, measure, n"):
        run_analysis(ctx, template="top_n", params={"limit": 3})
    with pytest.raises(ValidationError, match="either code or template"):
        run_analysis(ctx, code="print(1)", template="top_n")
    with pytest.raises(ValidationError, match="pass code"):
        run_analysis(ctx, code="  ")
    with pytest.raises(QueryRefusedError):
        run_analysis(ctx, code="print(df)", sql="DROP TABLE concerts")


def test_failing_code_reports_the_traceback_and_skips_bad_charts() -> None:
    frame = pd.DataFrame({"a": ["x", "y"], "b": [1, 2]})
    result: AnalysisResult = LocalSandbox().run(
        "print('before')\nchart('bar', df, 'a', 'missing')\n1 / 0", frame, {}, LIMITS
    )
    assert "before" in result.stdout
    assert result.error is not None and "ZeroDivisionError" in result.error
    assert "bootstrap.py" not in result.error
    assert len(result.charts) == 1  # the spec comes back; the host validates it when building


def test_pandas_without_an_extract_and_index_labels_kept() -> None:
    code = (
        "frame = pd.DataFrame({'a': [3, 1, 2]})\n"
        "print(np.arange(3).sum())\n"
        "result = [frame.describe(), frame.sort_values('a')]\n"
    )
    result = LocalSandbox().run(code, None, {}, LIMITS)
    assert result.error is None, result.error
    assert result.stdout.strip() == "3"
    stats, ordered = result.tables
    assert stats.columns == ["index", "a"] and stats.rows[1] == ["mean", 2.0]
    assert ordered.columns == ["a"] and ordered.rows == [[1], [2], [3]]
