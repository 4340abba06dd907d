"""What an analysis returns, the limits it runs under, and the sandbox interface."""

from __future__ import annotations

from typing import Any, Protocol

import pandas as pd
from pydantic import BaseModel, Field

from tools.results import Table


class AnalysisResult(BaseModel):
    """The outcome of an analysis: printed output, result tables and chart specs, as data."""

    stdout: str = ""
    stderr: str = ""
    tables: list[Table] = Field(default_factory=list)
    charts: list[dict[str, Any]] = Field(
        default_factory=list, description="plotly figure JSON built by the host from chart()"
    )
    duration_s: float = 0.0
    timed_out: bool = False
    error: str | None = Field(None, description="why the analysis failed, when it did")
    sandbox: str = Field("local", description="local or agentcore")
    isolation: list[str] = Field(
        default_factory=list, description="containment layers that were active for this run"
    )


class Limits(BaseModel):
    """Resource limits of one run; defaults suit interactive analyses on an extract."""

    wall_s: float = 30.0
    cpu_s: int = 20
    memory_mb: int = 1536
    processes: int = 32
    file_mb: int = 64
    open_files: int = 256
    max_output: int = 64_000
    max_rows: int = 1_000
    max_tables: int = 10


class CodeSandbox(Protocol):
    """Runs analysis code on a data extract, away from the host, and returns data only."""

    name: str

    def run(
        self,
        code: str,
        extract: pd.DataFrame | None,
        params: dict[str, Any],
        limits: Limits,
    ) -> AnalysisResult: ...
