"""The eval report as markdown (for the terminal and PRs) and HTML (for a browser), and the gate."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import yaml

from evals.runner import ASPECTS, EvalRun

THRESHOLDS = Path(__file__).parent / "thresholds.yaml"


def gate(summary: dict[str, Any], thresholds: dict[str, float] | None = None) -> list[str]:
    """The thresholds the run misses (empty when it passes). `*_ms` are maxima, others minima."""
    limits = thresholds or yaml.safe_load(THRESHOLDS.read_text())
    failures = []
    for key, limit in limits.items():
        value = summary.get(key)
        if value is None:
            continue
        if key.endswith("_ms") and value > limit:
            failures.append(f"{key} {value} > {limit}")
        elif not key.endswith("_ms") and value < limit:
            failures.append(f"{key} {value:.3f} < {limit}")
    return failures


def markdown(run: EvalRun) -> str:
    s = run.summary()
    lines = [
        f"# Encore eval — model `{run.model}`",
        "",
        f"{s['cases']} cases, {s['turns']} turns, {s['seconds']} s; "
        f"latency p50 {s['latency_p50_ms']} ms, p95 {s['latency_p95_ms']} ms; "
        f"{s['errors']} errors.",
        "",
        "| scorer | score | turns scored |",
        "|---|---|---|",
    ]
    for aspect in ASPECTS:
        value = s[aspect]
        lines.append(
            f"| {aspect} | {'' if value is None else f'{value:.1%}'} | {s[aspect + '_n']} |"
        )
    lines += ["", "| category | cases passed |", "|---|---|"]
    lines += [f"| {k} | {v:.1%} |" for k, v in s["by_category"].items()]
    failed = [c for c in run.cases if not c.passed]
    lines += ["", f"## Failed cases ({len(failed)})", ""]
    for c in failed:
        for t in c.turns:
            if t.passed:
                continue
            missed = ", ".join(k for k, v in t.scores.items() if v is False) or "error"
            answer = t.answer.replace("\n", " ")[:160]
            lines.append(
                f"- `{c.case.id}` — {t.ask[:80]!r}: {missed}; tools {t.tools}; "
                f"{t.error or answer!r}"
            )
    return "\n".join(lines) + "\n"


def to_html(run: EvalRun) -> str:
    body = html.escape(markdown(run))
    return (
        "<!doctype html><meta charset='utf-8'><title>Encore eval</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto}"
        "pre{white-space:pre-wrap}</style>"
        f"<pre>{body}</pre>"
    )


def write_report(run: EvalRun, path: Path) -> None:
    """Markdown, or HTML when `path` ends in .html."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_html(run) if path.suffix == ".html" else markdown(run))
