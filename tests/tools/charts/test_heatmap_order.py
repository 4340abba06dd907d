"""A heatmap's numeric axis runs in numeric order (month 2 before month 10), not as text."""

from __future__ import annotations

from tools.charts import make_chart
from tools.context import ToolContext
from tools.query import runner
from tools.results import Table


def test_months_run_in_calendar_order(ctx: ToolContext) -> None:
    result = runner.run_sql(
        ctx,
        "SELECT a.genre, month(p.event_date) AS month, sum(p.tickets_sold) AS tickets_sold "
        "FROM concert_performance p JOIN artists a USING (artist_id) GROUP BY 1, 2",
    )
    table = Table(columns=result.columns, rows=result.rows)
    chart = make_chart(ctx, kind="heatmap", table=table, x="month", y="genre")
    months = [int(m) for m in chart.plotly["data"][0]["x"]]
    assert len(months) > 9 and months == sorted(months)
