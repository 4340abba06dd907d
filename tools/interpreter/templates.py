"""Parameterised analyses for common questions: the code runs in the sandbox like any other."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field

from core.errors import ValidationError

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class AnalysisTemplate(BaseModel):
    """A ready-made analysis: default extract SQL, code reading `df` and `params`, defaults."""

    name: str
    description: str
    sql: str = Field(
        description="the extract the code expects as df (override with sql=...); aggregated in "
        "SQL where the analysis allows, so it fits the role's row cap"
    )
    code: str
    params: dict[str, Any] = Field(default_factory=dict, description="parameters and defaults")


def _described_in_sql(source: str, columns: tuple[str, ...]) -> str:
    """SQL giving pandas' describe() of numeric columns, a row per column: the statistics of
    every row, where an extract of the rows themselves would be cut at the role's row cap."""
    # as doubles, like pandas: a DECIMAL column's quantiles would be rounded to its scale
    branches = [
        f"SELECT {i} AS position, '{c}' AS \"column\", COUNT(*) AS n_rows, "
        f'COUNT({x}) AS "count", AVG({x}) AS mean, STDDEV_SAMP({x}) AS std, '
        f'MIN({x}) AS min, QUANTILE_CONT({x}, 0.25) AS "25%", '
        f'QUANTILE_CONT({x}, 0.5) AS "50%", QUANTILE_CONT({x}, 0.75) AS "75%", '
        f"MAX({x}) AS max FROM {source}"
        for i, c in enumerate(columns)
        for x in [f"CAST({c} AS DOUBLE)"]
    ]
    return " UNION ALL ".join(branches) + " ORDER BY position"


def binned_pairs_sql(rows_sql: str, x: str, y: str, bins: int = 50) -> str:
    """SQL reducing `rows_sql` (a row per concert with numeric columns `x` and `y`) to what a
    correlation needs: a row per bin of `x` (`bins` bins of equal count, ties in one bin) with
    its concerts, the means of `x` and `y` (the points of a scatter) and the sums of products
    of deviations from the overall means, of the values (Pearson) and of their average ranks
    (Spearman, ranked as pandas does). Summed over the bins they give both coefficients over
    every row, in an extract of at most `bins` rows, where the rows themselves would be cut at
    the role's row cap."""
    for name in (x, y):
        if not _IDENTIFIER.fullmatch(name):
            raise ValidationError(
                f"x and y name columns of the rows (letters, digits, _); got {name!r}"
            )
    # deviations from the overall means, not raw sums of squares: no cancellation in doubles;
    # the mean of average ranks is (n + 1) / 2
    return (
        f"WITH pairs AS (SELECT CAST({x} AS DOUBLE) AS x, CAST({y} AS DOUBLE) AS y "
        f"FROM (\n{rows_sql.strip().rstrip(';')}\n) AS source "
        f"WHERE {x} IS NOT NULL AND {y} IS NOT NULL), "
        "ranked AS (SELECT x, y, count(*) OVER () AS n, "
        "x - avg(x) OVER () AS dx, y - avg(y) OVER () AS dy, "
        "rank() OVER (ORDER BY x) + (count(*) OVER (PARTITION BY x) - 1) / 2 AS rx, "
        "rank() OVER (ORDER BY y) + (count(*) OVER (PARTITION BY y) - 1) / 2 AS ry "
        "FROM pairs) "
        f"SELECT CAST(floor((rx - 1) * {bins} / n) AS INTEGER) AS bin, count(*) AS concerts, "
        f"avg(x) AS {x}, avg(y) AS {y}, "
        "sum(dx * dy) AS sum_dxdy, sum(dx * dx) AS sum_dx2, sum(dy * dy) AS sum_dy2, "
        "sum((rx - (n + 1) / 2) * (ry - (n + 1) / 2)) AS sum_rxry, "
        "sum((rx - (n + 1) / 2) * (rx - (n + 1) / 2)) AS sum_rx2, "
        "sum((ry - (n + 1) / 2) * (ry - (n + 1) / 2)) AS sum_ry2 "
        "FROM ranked GROUP BY 1 ORDER BY 1"
    )


_TEMPLATES = [
    AnalysisTemplate(
        name="summary_stats",
        description="Count, mean, spread and quartiles of every column of the extract. An "
        "sql=... override may return rows (each column described) or the statistics computed "
        "in SQL like the default's, which fit the row cap however many rows they cover.",
        sql=_described_in_sql(
            "concert_performance WHERE status = 'completed'",
            ("capacity", "tickets_sold", "gross_revenue", "avg_ticket_price", "sell_through"),
        ),
        code="""if {'column', 'n_rows', 'mean'} <= set(df.columns):  # described in SQL
    rows = int(df['n_rows'].max()) if len(df) else 0
    result = df.drop(columns=['position', 'n_rows'], errors='ignore')
else:
    rows = len(df)
    result = df.describe(include='all').transpose().reset_index()
    result = result.rename(columns={'index': 'column'})
print(f'{rows} rows')
""",
    ),
    AnalysisTemplate(
        name="price_vs_sell_through",
        description="Correlation of average ticket price with sell-through (Pearson and "
        "Spearman) over every concert that has both, with a scatter of the price bins' means "
        "(bins of equal count). The default extract is a row per bin with the sums the "
        "correlations need, so it fits any row cap. An sql=... override may return a row per "
        "concert with the columns named by x and y (past the row cap, a sample of them), or "
        "bins like the default's: bin, concerts, x, y (the bin's means), sum_dxdy, sum_dx2, "
        "sum_dy2 (products of deviations from the overall means) and sum_rxry, sum_rx2, "
        "sum_ry2 (the same of average ranks).",
        sql=binned_pairs_sql(
            "SELECT avg_ticket_price, sell_through FROM concert_performance",
            "avg_ticket_price",
            "sell_through",
        ),
        code="""x, y = params['x'], params['y']
if {'concerts', 'sum_dxdy', 'sum_rxry'} <= set(df.columns):  # binned in SQL, with their sums
    n = int(df['concerts'].sum())
    sums = df[['sum_dxdy', 'sum_dx2', 'sum_dy2', 'sum_rxry', 'sum_rx2', 'sum_ry2']].sum()
    pearson = sums['sum_dxdy'] / np.sqrt(sums['sum_dx2'] * sums['sum_dy2']) if n else np.nan
    spearman = sums['sum_rxry'] / np.sqrt(sums['sum_rx2'] * sums['sum_ry2']) if n else np.nan
    points = df[[x, y]].astype(float)
    title = f'{y} vs {x}: means of {len(df)} equal-count bins'.replace('_', ' ').capitalize()
else:  # a row per concert
    data = df[[x, y]].dropna().astype(float)
    n = len(data)
    pearson = data[x].corr(data[y])
    spearman = data[x].rank().corr(data[y].rank())
    # a chart shows 1,000 points at most: a sample of them, not the first ones
    points = data.sample(min(n, 1000), random_state=0).sort_index()
    title = ''
print(f'{n} concerts: Pearson r = {pearson:.3f}, Spearman rho = {spearman:.3f}')
result = pd.DataFrame({'method': ['pearson', 'spearman'], 'correlation': [pearson, spearman],
                       'n': [n, n]})
chart('scatter', points, x, y, title)
""",
        params={"x": "avg_ticket_price", "y": "sell_through"},
    ),
    AnalysisTemplate(
        name="month_over_month",
        description="A measure by month with the month-over-month change in percent.",
        sql="SELECT strftime(event_date, '%Y-%m') AS month, SUM(tickets_sold) AS tickets_sold, "
        "SUM(gross_revenue) AS gross_revenue FROM concert_performance "
        "WHERE status = 'completed' GROUP BY 1 ORDER BY 1",
        code="""measure = params['measure']
monthly = df.groupby('month', as_index=False)[measure].sum().sort_values('month')
monthly['change_pct'] = (monthly[measure].pct_change() * 100).round(1)
result = monthly
chart('line', monthly, 'month', measure)
""",
        params={"measure": "tickets_sold"},
    ),
    AnalysisTemplate(
        name="top_n",
        description="The top N values of a dimension by a measure, with each one's share.",
        # one row per venue, not per concert: the role's row cap would cut the concerts short
        sql="SELECT v.name AS venue, v.city, SUM(p.tickets_sold) AS tickets_sold, "
        "SUM(p.gross_revenue) AS gross_revenue FROM concert_performance p "
        "JOIN venues v USING (venue_id) WHERE p.status = 'completed' "
        "GROUP BY p.venue_id, v.name, v.city",
        code="""by, measure, n = params['by'], params['measure'], int(params['n'])
totals = df.groupby(by, as_index=False)[measure].sum()
totals['share'] = totals[measure] / totals[measure].sum()
result = totals.sort_values(measure, ascending=False).head(n)
chart('bar', result, by, measure)
""",
        params={"by": "venue", "measure": "gross_revenue", "n": 10},
    ),
    AnalysisTemplate(
        name="fan_cohorts",
        description="Fans grouped by the month of their first purchase: how many bought again "
        "in each later month (retention by cohort). An sql=... override may return the fans "
        "counted per cohort and month (cohort, month, fans) or a row per fan and month or per "
        "sale (fan_id, month as 'YYYY-MM'); counting in SQL keeps the extract under the row cap.",
        # the active fans per cohort and month, counted in SQL: an extract of a row per sale (or
        # per fan and month) outgrows the role's row cap on any but the smallest warehouse
        sql="WITH fan_months AS (SELECT fan_id, strftime(sold_at, '%Y-%m') AS month "
        "FROM ticket_sales WHERE fan_id IS NOT NULL GROUP BY 1, 2), "
        "firsts AS (SELECT fan_id, MIN(month) AS cohort FROM fan_months GROUP BY 1) "
        "SELECT f.cohort, m.month, COUNT(*) AS fans FROM fan_months m "
        "JOIN firsts f USING (fan_id) GROUP BY 1, 2 ORDER BY 1, 2",
        code="""if {'cohort', 'month', 'fans'} <= set(df.columns):
    active = df[['cohort', 'month', 'fans']].copy()
else:  # a row per sale, or per fan and month: count the fans here
    months = df[['fan_id', 'month']].drop_duplicates()
    first = months.groupby('fan_id')['month'].min().rename('cohort')
    active = months.join(first, on='fan_id').groupby(['cohort', 'month']).size()
    active = active.reset_index(name='fans')
to_index = lambda m: int(m[:4]) * 12 + int(m[5:7])
active['months_after'] = active['month'].map(to_index) - active['cohort'].map(to_index)
sizes = active[active['months_after'] == 0].set_index('cohort')['fans']
active['retention'] = active['fans'] / active['cohort'].map(sizes)
active = active[active['months_after'] <= int(params['max_months'])]
result = active.pivot(index='cohort', columns='months_after', values='retention').reset_index()
result.columns = [str(c) for c in result.columns]
print(f'{len(sizes)} cohorts, {int(sizes.sum())} fans')
""",
        params={"max_months": 6},
    ),
]
TEMPLATES: dict[str, AnalysisTemplate] = {t.name: t for t in _TEMPLATES}


def get_template(name: str) -> AnalysisTemplate:
    """The template called `name`, or a ValidationError listing the ones that exist."""
    try:
        return TEMPLATES[name]
    except KeyError:
        known = ", ".join(TEMPLATES)
        raise ValidationError(f"unknown analysis template {name!r}; known: {known}") from None
