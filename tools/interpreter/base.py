"""What an analysis returns, the limits it runs under, and the sandbox interface."""

from __future__ import annotations

import math
from typing import Any, Protocol

import pandas as pd
from pydantic import BaseModel, Field

from core.settings import Settings
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
    timed_out: bool = Field(
        False,
        description="stopped by a time limit, wall clock or CPU; `error` names which and how to "
        "raise it",
    )
    error: str | None = Field(None, description="why the analysis failed, when it did")
    sandbox: str = Field("local", description="local or agentcore")
    isolation: list[str] = Field(
        default_factory=list, description="containment layers that were active for this run"
    )
    rows_read: int | None = Field(None, description="rows of the extract the code saw as df")
    row_cap: int | None = Field(None, description="the role's row cap on the extract")
    rows_selected: int | None = Field(
        None, description="rows the extract's SQL selects (None when cut and not counted)"
    )
    truncated: bool = Field(
        False,
        description="the row cap cut the extract: the results cover only `rows_read` rows, not "
        "all the SQL selects; `note` says what to do",
    )
    sampled: bool = Field(
        False,
        description="the cut extract is a random sample of the rows the SQL selects (the same "
        "every run), not its first rows",
    )
    note: str | None = Field(None, description="what the caller should know about the results")


class Limits(BaseModel):
    """Resource limits of one run; defaults suit interactive analyses on an extract (a chat
    answer waits for them). `wall_s` and `cpu_s` are the Settings' defaults, see `from_settings`."""

    wall_s: float = 10.0
    cpu_s: int = 10
    memory_mb: int = 1536
    processes: int = 32
    file_mb: int = 64
    open_files: int = 256
    max_output: int = 64_000
    max_rows: int = 1_000
    max_tables: int = 10

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        """The time limits set by ENCORE_ANALYSIS_TIMEOUT_S and ENCORE_ANALYSIS_CPU_S (the CPU
        limit defaults to the wall-clock one, rounded up: rlimits count whole seconds)."""
        wall = settings.analysis_timeout_s
        return cls(wall_s=wall, cpu_s=settings.analysis_cpu_s or max(1, math.ceil(wall)))


def wall_limit_error(limits: Limits) -> str:
    """Why an analysis stopped by the wall clock failed, and how to allow more."""
    return (
        f"the analysis ran longer than {limits.wall_s:g} s (wall clock) and was stopped; "
        "the limit is ENCORE_ANALYSIS_TIMEOUT_S (seconds), raise it to allow longer analyses"
    )


def cpu_limit_error(limits: Limits) -> str:
    """Why an analysis stopped by its CPU budget failed, and how to allow more."""
    return (
        f"the analysis used more than {limits.cpu_s} s of CPU and was stopped; "
        "the limit is ENCORE_ANALYSIS_CPU_S (seconds, default the wall-clock limit "
        "ENCORE_ANALYSIS_TIMEOUT_S), raise it to allow longer analyses"
    )


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
