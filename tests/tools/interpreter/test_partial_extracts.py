"""Analyses past the role's row cap: the correlation fits it by binning in SQL, and an extract
that must be cut is a random sample of the rows, not the first ones."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from core.errors import ValidationError
from core.settings import Settings
from tests.conftest import copy_warehouse, query_warehouse
from tools.context import ToolContext
from tools.interpreter import Limits, LocalSandbox, run_analysis
from tools.interpreter.templates import TEMPLATES, binned_pairs_sql
from tools.query.policy import load_policy

LIMITS = Limits(wall_s=60, cpu_s=20, memory_mb=1024)
PAIRS = (
    "SELECT CAST(avg_ticket_price AS DOUBLE) AS avg_ticket_price, sell_through "
    "FROM concert_performance WHERE avg_ticket_price IS NOT NULL AND sell_through IS NOT NULL"
)


def _correlations(result_rows: list[list[object]]) -> dict[object, tuple[object, object]]:
    return {method: (value, n) for method, value, n in result_rows}


@pytest.fixture
def many_concerts(small_warehouse: Settings, tmp_path: Path) -> Settings:
    """The small warehouse with copies of its concerts, each copy's prices raised by a step,
    until the concerts with a price and a sell-through outnumber the analyst's row cap."""
    settings = copy_warehouse(small_warehouse, tmp_path)
    [(pairs,)] = query_warehouse(settings, f"SELECT count(*) FROM ({PAIRS})")
    copies = load_policy().role("analyst").max_rows // int(pairs)  # type: ignore[call-overload]
    with duckdb.connect(str(settings.warehouse_file)) as con:
        for k in range(1, copies + 1):
            con.execute(
                "INSERT INTO concert_performance SELECT * REPLACE (concert_id || ? AS "
                "concert_id, avg_ticket_price + ? AS avg_ticket_price) FROM concert_performance "
                "WHERE concert_id NOT LIKE '%~%'",
                [f"~{k}", 15 * k],
            )
    return settings


def test_the_correlation_covers_every_concert_past_the_row_cap(many_concerts: Settings) -> None:
    """Binned in SQL, the extract fits the cap and gives the coefficients of all the concerts:
    DuckDB's corr() and pandas' ranks on every row, and the template's own row-level code."""
    ctx = ToolContext(many_concerts, role="analyst")
    cap = load_policy().role("analyst").max_rows
    every = pd.DataFrame(query_warehouse(many_concerts, PAIRS), columns=["x", "y"]).astype(float)
    assert len(every) > cap
    [(pearson,)] = query_warehouse(
        many_concerts, f"SELECT corr(avg_ticket_price, sell_through) FROM ({PAIRS})"
    )

    binned = run_analysis(ctx, template="price_vs_sell_through", limits=LIMITS)
    assert binned.error is None, binned.error
    assert not binned.truncated and binned.note is None
    assert binned.rows_read is not None and binned.rows_read <= 50  # a row per price bin
    found = _correlations(binned.tables[0].rows)
    assert found["pearson"] == (pytest.approx(pearson, abs=1e-9), len(every))
    spearman = every["x"].rank().corr(every["y"].rank())
    assert found["spearman"] == (pytest.approx(spearman, abs=1e-9), len(every))
    assert binned.stdout.startswith(f"{len(every)} concerts: Pearson r = {pearson:.3f}")

    template = TEMPLATES["price_vs_sell_through"]
    frame = every.rename(columns={"x": "avg_ticket_price", "y": "sell_through"})
    row_level = LocalSandbox().run(template.code, frame, template.params, LIMITS)
    assert row_level.error is None, row_level.error
    assert row_level.stdout == binned.stdout
    (figure,) = binned.charts
    assert figure["data"][0]["type"] == "scatter"
    assert "equal-count bins" in figure["layout"]["title"]["text"]


def test_the_correlation_fits_the_partner_cap_and_bins_any_row_query(ctx: ToolContext) -> None:
    """The partner role (aggregates only, 1,000 rows) gets it too; binned_pairs_sql wraps a
    query of a row per concert, such as a filtered one, the same way."""
    partner = ToolContext(ctx.settings, role="partner")
    [(pairs,)] = query_warehouse(ctx.settings, f"SELECT count(*) FROM ({PAIRS})")
    assert isinstance(pairs, int) and pairs > load_policy().role("partner").max_rows
    whole = run_analysis(partner, template="price_vs_sell_through", limits=LIMITS)
    assert whole.error is None, whole.error
    assert not whole.truncated and whole.stdout.startswith(f"{pairs} concerts:")

    rows = (
        "SELECT concert_id, CAST(capacity AS DOUBLE) AS capacity, CAST(tickets_sold AS DOUBLE) "
        "AS tickets_sold FROM concert_performance WHERE status = 'completed' ORDER BY concert_id;"
    )
    binned = run_analysis(
        ctx,
        template="price_vs_sell_through",
        sql=binned_pairs_sql(rows, "capacity", "tickets_sold", bins=20),
        params={"x": "capacity", "y": "tickets_sold"},
        limits=LIMITS,
    )
    per_concert = run_analysis(
        ctx,
        template="price_vs_sell_through",
        sql=rows,
        params={"x": "capacity", "y": "tickets_sold"},
        limits=LIMITS,
    )
    assert binned.error is None and per_concert.error is None, (binned.error, per_concert.error)
    assert binned.rows_read is not None and per_concert.rows_read is not None
    assert binned.rows_read <= 20 < per_concert.rows_read and not per_concert.truncated
    assert binned.stdout == per_concert.stdout
    for ours, theirs in zip(binned.tables[0].rows, per_concert.tables[0].rows, strict=True):
        assert ours == [theirs[0], pytest.approx(theirs[1], abs=1e-9), theirs[2]]
    with pytest.raises(ValidationError, match="letters, digits"):
        binned_pairs_sql(rows, "capacity; DROP", "tickets_sold")


SALES_BY_DATE = (
    "SELECT sale_id, sold_at, unit_price FROM ticket_sales ORDER BY sold_at, sale_id -- by date"
)
DESCRIBE = "result = df\nprint(len(df), df['sold_at'].is_monotonic_increasing)"


def test_a_cut_extract_is_a_uniform_sample_kept_in_the_query_order(ctx: ToolContext) -> None:
    """Sales ordered by date: the first 5,000 would be the earliest ones only; the sample draws
    from every quarter of the dates alike, keeps the query's order, and is the same each run."""
    cap = load_policy().role(ctx.role).max_rows
    every = pd.DataFrame(
        query_warehouse(ctx.settings, SALES_BY_DATE), columns=["sale_id", "sold_at", "unit_price"]
    )
    assert len(every) > 2 * cap
    wide = Limits(wall_s=60, cpu_s=20, memory_mb=1024, max_rows=cap)
    runs = [run_analysis(ctx, code=DESCRIBE, sql=SALES_BY_DATE, limits=wide) for _ in range(2)]
    for run in runs:
        assert run.error is None, run.error
        assert run.stdout.strip() == f"{cap} True"  # the query's order is kept
        assert run.truncated and run.sampled and run.rows_read == cap
        assert run.rows_selected == len(every)
        assert run.note is not None
        assert f"a random sample of {cap:,} of {len(every):,} rows" in run.note
        assert run.note.startswith(f"the extract was cut at {cap:,} rows, the analyst role's")
    assert runs[0].tables == runs[1].tables  # the same sample every run

    drawn = pd.DataFrame(runs[0].tables[0].rows, columns=runs[0].tables[0].columns)
    assert drawn["sale_id"].is_unique and set(drawn["sale_id"]) <= set(every["sale_id"])
    quarter = pd.qcut(every["sold_at"].rank(method="first"), 4, labels=False)
    drawn_quarters = quarter[every["sale_id"].isin(drawn["sale_id"])].value_counts()
    assert drawn_quarters.to_dict() == pytest.approx(dict.fromkeys(range(4), cap / 4), rel=0.08)
    assert abs(drawn["unit_price"].mean() - every["unit_price"].mean()) < 0.05 * float(
        every["unit_price"].mean()
    )


def test_a_role_that_may_not_sample_gets_the_first_rows_and_is_told(ctx: ToolContext) -> None:
    """The guard refuses the partner role's sampling query (it reads rows of an aggregate):
    the extract is the first rows, and the note says so rather than claim a sample."""
    partner = ToolContext(ctx.settings, role="partner")
    cap = load_policy().role("partner").max_rows
    per_concert = (
        "SELECT concert_id, sum(tickets_sold) AS sold FROM concert_performance GROUP BY 1 "
        "ORDER BY 1"
    )
    [(groups,)] = query_warehouse(ctx.settings, f"SELECT count(*) FROM ({per_concert})")
    assert isinstance(groups, int) and groups > cap
    cut = run_analysis(
        partner, code="print(','.join(df['concert_id']))", sql=per_concert, limits=LIMITS
    )
    assert cut.error is None, cut.error
    assert cut.truncated and not cut.sampled and cut.rows_read == cap
    assert cut.rows_selected is None
    first = [r[0] for r in query_warehouse(ctx.settings, f"{per_concert} LIMIT {cap}")]
    assert cut.stdout.strip().split(",") == first
    assert cut.note is not None and f"only the first {cap:,} rows" in cut.note
    assert "not a sample" in cut.note and "random sample" not in cut.note
