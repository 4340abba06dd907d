"""run_analysis and list_analysis_templates: the code-interpreter tools."""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

import pandas as pd

from core.errors import EncoreError, ValidationError
from tools.charts import make_chart
from tools.context import ToolContext
from tools.interpreter.base import AnalysisResult, CodeSandbox, Limits
from tools.interpreter.local import LocalSandbox
from tools.interpreter.templates import TEMPLATES, AnalysisTemplate, get_template
from tools.query.policy import load_policy
from tools.results import Table

log = logging.getLogger(__name__)
MAX_CODE_CHARS = 20_000


def default_sandbox(ctx: ToolContext) -> CodeSandbox:
    """The sandbox for the settings profile: local by default, AgentCore on the aws profile."""
    if ctx.settings.profile == "aws":
        from tools.interpreter.agentcore import AgentCoreSandbox

        return AgentCoreSandbox(region=ctx.settings.aws_region)
    return LocalSandbox(hidden=(ctx.settings.data_dir, ctx.settings.warehouse_file))


class Extract(NamedTuple):
    """The data an analysis reads, and how the role's row cap cut it."""

    frame: pd.DataFrame
    truncated: bool
    selected: int | None = None  # rows the SQL selects; None when cut and not counted
    sampled: bool = False  # a cut extract is a random sample of them, not the first rows


# the sample's bookkeeping columns, dropped before the analysis sees the extract
_POSITION, _ROWS, _DRAW = "__encore_position", "__encore_rows", "__encore_draw"
SAMPLE_SEED = 1


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sample_sql(sql: str, columns: list[str], rows: int, seed: int = SAMPLE_SEED) -> str:
    """SQL drawing `rows` of the rows `sql` selects, each equally likely, in the query's order,
    with how many it selects. The same sample every run: a row's draw is the md5 of its place
    in the rows sorted by all their `columns` (DuckDB's reservoir sample with a seed still
    varies with the threads' order), so identical rows are interchangeable and the rest is
    fixed."""
    order = ", ".join(f"s.{_quoted(c)}" for c in columns)
    return (
        f"SELECT * FROM (SELECT s.*, count(*) OVER () AS {_quoted(_ROWS)}, "
        f"md5(CAST(row_number() OVER (ORDER BY {order}) AS VARCHAR) || ':{seed}') "
        f"AS {_quoted(_DRAW)} FROM (SELECT q.*, row_number() OVER () AS {_quoted(_POSITION)} "
        f"FROM (\n{sql.strip().rstrip(';')}\n) AS q) AS s) AS d "
        f"ORDER BY {_quoted(_DRAW)} LIMIT {rows}"
    )


def extract(ctx: ToolContext, sql: str) -> Extract:
    """The data an analysis may read: one guarded query's result (the caller's role applies).
    When it has more rows than the role's cap, a random sample of them (see `sample_sql`),
    or the first ones when the guard or the engine refuses the sampling query."""
    from tools.query.runner import run_sql

    first = run_sql(ctx, sql)
    frame = pd.DataFrame(first.rows, columns=first.columns)
    if not first.truncated:
        return Extract(frame, truncated=False, selected=len(frame))
    try:
        drawn = run_sql(ctx, sample_sql(sql, first.columns, first.row_count), engine=first.engine)
    except EncoreError as exc:
        log.info("analysis extract: no sample (%s); the first %d rows", exc, first.row_count)
        return Extract(frame, truncated=True)
    if drawn.columns != [*first.columns, _POSITION, _ROWS, _DRAW] or not drawn.rows:
        log.info("analysis extract: the sample's columns differ; the first %d rows", len(frame))
        return Extract(frame, truncated=True)
    sample = pd.DataFrame(drawn.rows, columns=drawn.columns)
    selected = int(sample[_ROWS].iloc[0])
    sample = sample.sort_values(_POSITION, kind="stable").drop(columns=[_POSITION, _ROWS, _DRAW])
    log.info("analysis extract: a sample of %d of %d rows (row cap)", len(sample), selected)
    return Extract(
        sample.reset_index(drop=True), selected > len(sample), selected=selected, sampled=True
    )


def truncation_note(role: str, cap: int, selected: int | None = None) -> str:
    """What a caller of an analysis on a cut extract should know and do; `selected`: the rows
    the SQL selects, when the extract is a random sample of them (else the first `cap`)."""
    if selected is not None:
        covers = (
            f"a random sample of {cap:,} of {selected:,} rows (each row equally likely; the "
            "same sample every run), so the results are estimates from that sample, not "
            "figures over all the data the SQL selects"
        )
    else:
        covers = (
            f"the results cover only the first {cap:,} rows in the query's order (not a "
            "sample), not all the data the SQL selects"
        )
    return (
        f"the extract was cut at {cap:,} rows, the {role} role's row cap: {covers}. Aggregate "
        "in the SQL (GROUP BY to one row per group the analysis needs) so the extract fits, or "
        "ask for a role with a larger cap"
    )


def run_analysis(
    ctx: ToolContext,
    *,
    code: str = "",
    sql: str | None = None,
    template: str | None = None,
    params: dict[str, Any] | None = None,
    limits: Limits | None = None,
    sandbox: CodeSandbox | None = None,
) -> AnalysisResult:
    """Run Python (pandas/numpy) on a data extract in an isolated sandbox and return its results.

    `sql` (a read-only SELECT, checked like run_sql) selects the data; the code sees it as the
    pandas DataFrame `df`. Assign a DataFrame (or a list of them) to `result` or call
    `show(frame)` to return tables; call `chart(kind, frame, x, y)` (kind: bar, line, scatter,
    heatmap, map) for charts; print() for text. Or pass `template` (see
    list_analysis_templates) with `params` instead of code. No network, no files outside the
    sandbox, no subprocesses; limits on memory and on time (seconds of wall clock and CPU), so
    keep analyses short: a stopped one comes back with `timed_out` and an error naming the limit.
    The extract is capped at the role's row limit (`row_cap`): aggregate in the SQL (GROUP BY)
    rather than reading row by row. A cut extract comes back with `truncated` true, `rows_read`
    and a `note`: it is a random sample (`sampled`; else the first rows) of the `rows_selected`
    rows, so its results are estimates from part of the data: say so, or aggregate and rerun.
    """
    chosen: AnalysisTemplate | None = get_template(template) if template else None
    if chosen is not None and code.strip():
        raise ValidationError("pass either code or template, not both")
    if chosen is None and not code.strip():
        raise ValidationError("pass code to run, or a template name (see list_analysis_templates)")
    source = chosen.code if chosen else code
    if len(source) > MAX_CODE_CHARS:
        raise ValidationError(
            f"the code is {len(source)} characters; keep it under {MAX_CODE_CHARS}"
        )
    merged = {**(chosen.params if chosen else {}), **(params or {})}
    if chosen is not None:
        unknown = sorted(set(params or {}) - set(chosen.params))
        if unknown:
            raise ValidationError(
                f"template {chosen.name!r} has no parameter {', '.join(unknown)}; "
                f"its parameters: {', '.join(chosen.params) or 'none'}"
            )
    query = sql or (chosen.sql if chosen else None)
    data = extract(ctx, query) if query else None
    runner = sandbox or default_sandbox(ctx)
    frame = data.frame if data else None
    result = runner.run(source, frame, merged, limits or Limits.from_settings(ctx.settings))
    result.charts = _build_charts(ctx, result.charts, result)
    if data is not None:
        result.rows_read = len(data.frame)
        result.row_cap = load_policy().role(ctx.role).max_rows
        result.rows_selected = data.selected
        result.truncated = data.truncated
        result.sampled = data.sampled
        if data.truncated:
            selected = data.selected if data.sampled else None
            result.note = truncation_note(ctx.role, result.rows_read, selected)
    return result


def _build_charts(
    ctx: ToolContext, specs: list[dict[str, Any]], result: AnalysisResult
) -> list[dict[str, Any]]:
    """Turn the child's chart specs (data only) into plotly JSON with our own chart code."""
    charts: list[dict[str, Any]] = []
    for spec in specs:
        try:
            table = Table.model_validate(spec.get("table", {}))
            chart = make_chart(
                ctx,
                kind=spec.get("kind"),  # type: ignore[arg-type]  # validated by make_chart
                table=table,
                x=_name(spec.get("x")),
                y=_name(spec.get("y")),
                title=_name(spec.get("title")),
            )
        except (EncoreError, ValueError) as exc:
            result.stderr += f"\nchart skipped: {exc}"
            continue
        charts.append(chart.plotly)
    return charts


def _name(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def list_analysis_templates(ctx: ToolContext) -> list[AnalysisTemplate]:
    """Ready-made analyses for run_analysis(template=..., params=...), with their parameters."""
    return list(TEMPLATES.values())
