"""`encore eval`: score the agent on every case and gate on the thresholds file."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from core.settings import Settings

app = typer.Typer()
console = Console()


@app.command("eval")
def eval_command(
    model: Annotated[str, typer.Option(help="offline, or a provider such as openai:gpt-4o")] = (
        "offline"
    ),
    report: Annotated[Path | None, typer.Option(help="write the report (.md or .html)")] = None,
    category: Annotated[
        list[str] | None, typer.Option(help="only these categories (data, refusal, ...)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
    gate: Annotated[bool, typer.Option(help="exit 1 when a threshold is missed")] = True,
    quick: Annotated[
        bool, typer.Option(help="one case per template (the CI gate's sample), about half")
    ] = False,
) -> None:
    """Run the eval suite on the warehouse in ENCORE_DATA_DIR; print scores and failures."""
    from evals.report import gate as check_gate
    from evals.report import markdown, write_report
    from evals.runner import CaseScore, run_eval

    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    settings = Settings()
    wanted = set(category or [])
    with Progress(
        TextColumn("[bold]eval"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("{task.description}"), console=console, transient=True,
    ) as progress:  # fmt: skip
        task = progress.add_task("", total=None)

        def advance(score: CaseScore) -> None:
            progress.update(task, advance=1, description=score.case.id[:40])

        run = asyncio.run(
            run_eval(
                settings,
                model=model,
                select=(lambda c: c.category in wanted) if wanted else None,
                on_case=advance,
                quick=quick,
            )
        )
    summary = run.summary()
    failures = check_gate(summary) if gate else []
    if report:
        write_report(run, report)
    if as_json:
        typer.echo(json.dumps({**summary, "gate_failures": failures}))
    else:
        console.print(Markdown(markdown(run)))
        if report:
            console.print(f"Report written to {report}")
        for failure in failures:
            console.print(f"[red]gate: {failure}[/]")
    if failures:
        raise typer.Exit(1)
