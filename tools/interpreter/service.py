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
    """The data an analysis reads, and whether the role's row cap cut it."""

    frame: pd.DataFrame
    truncated: bool


def extract(ctx: ToolContext, sql: str) -> Extract:
    """The data an analysis may read: one guarded query's result (the caller's role applies)."""
    from tools.query.runner import run_sql

    result = run_sql(ctx, sql)
    if result.truncated:
        log.info("analysis extract cut to %d rows by the role's row limit", result.row_count)
    return Extract(pd.DataFrame(result.rows, columns=result.columns), result.truncated)


def truncation_note(role: str, cap: int) -> str:
    """What a caller of an analysis on a cut extract should know and do."""
    return (
        f"the extract was cut at {cap:,} rows, the {role} role's row cap: the results cover "
        "only those rows, not all the data the SQL selects. Aggregate in the SQL (GROUP BY "
        "to one row per group the analysis needs) so the extract fits, or ask for a role "
        "with a larger cap"
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
    and a `note`: its results cover only part of the data, so say so or aggregate and rerun.
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
        result.truncated = data.truncated
        if data.truncated:
            result.note = truncation_note(ctx.role, result.rows_read)
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
