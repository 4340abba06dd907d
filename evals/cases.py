"""Eval cases: what to ask, and what a right answer looks like; loaded from `evals/cases/*.yaml`.

A case may hold `{placeholders}` filled from `bind` queries run on the warehouse under test (so a
case names a real artist whatever the seed) and from `expand`, which turns one case into one per
value. Prompt-injection cases can come from the Giskard corpus beside the project.
"""

from __future__ import annotations

import ast
import csv
import itertools
from pathlib import Path
from typing import Any, Literal

import duckdb
import yaml
from pydantic import BaseModel, Field

CASES_DIR = Path(__file__).parent / "cases"
GISKARD = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "prompt-injections-giskard"
)

Category = Literal[
    "data", "tools", "conversation", "memory", "chart", "prediction", "recommendation", "refusal"
]


class Turn(BaseModel):
    """One user message and the checks on the agent's reply to it."""

    ask: str
    gold_sql: str | None = Field(None, description="its result must appear in a returned table")
    ordered: bool = Field(False, description="the gold rows' order matters")
    tools: list[str] = Field(default_factory=list, description="tools that must be called")
    tools_any: list[str] = Field(default_factory=list, description="at least one of these called")
    tool_args: dict[str, Any] = Field(
        default_factory=dict, description="tool.arg -> value (or list of acceptable values)"
    )
    facts: list[str] = Field(default_factory=list, description="texts the answer must contain")
    facts_sql: str | None = Field(
        None, description="a one-value query whose value is in the answer"
    )
    chart: bool = False
    refuse: bool = False
    forbidden: list[str] = Field(default_factory=list, description="texts the answer must not hold")
    forbidden_tools: list[str] = Field(default_factory=list)


class Case(BaseModel):
    """A conversation of one or more turns, run in a fresh session."""

    id: str
    category: Category
    turns: list[Turn]
    user: str | None = Field(None, description="user id; cases sharing it share memory")
    new_session_per_turn: bool = Field(False, description="each turn in a new session")


class _CaseTemplate(BaseModel):
    id: str
    category: Category
    turns: list[dict[str, Any]] | None = None
    ask: str | None = None
    bind: dict[str, str] = Field(default_factory=dict)
    expand: dict[str, list[Any]] = Field(default_factory=dict)
    user: str | None = None
    new_session_per_turn: bool = False
    model_config = {"extra": "allow"}


def _fill(value: Any, params: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return value.format(**params) if params else value
    if isinstance(value, list):
        return [_fill(v, params) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, params) for k, v in value.items()}
    return value


def _bound(con: duckdb.DuckDBPyConnection, bind: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, sql in bind.items():
        row = con.execute(sql).fetchone()
        if row is None:
            raise ValueError(f"bind query for {name!r} returned nothing: {sql}")
        values[name] = row[0]
        values[f"{name}_sql"] = str(row[0]).replace("'", "''")
    return values


def _expand(template: _CaseTemplate, con: duckdb.DuckDBPyConnection) -> list[Case]:
    keys = list(template.expand)
    combos = list(itertools.product(*template.expand.values())) if keys else [()]
    extra = template.model_extra or {}
    turns = template.turns or [{"ask": template.ask, **extra}]
    cases = []
    for combo in combos:
        params: dict[str, Any] = {}
        for key, value in zip(keys, combo, strict=True):
            if isinstance(value, dict):  # several placeholders at once
                params.update(value)
            else:
                params[key] = value
        params.update(_bound(con, {k: _fill(v, params) for k, v in template.bind.items()}))
        suffix = "-".join(str(next(iter(v.values())) if isinstance(v, dict) else v) for v in combo)
        cases.append(
            Case(
                id=f"{template.id}[{suffix}]" if suffix else template.id,
                category=template.category,
                turns=[Turn(**_fill(t, params)) for t in turns],
                user=_fill(template.user, params) if template.user else None,
                new_session_per_turn=template.new_session_per_turn,
            )
        )
    return cases


def giskard_cases() -> list[Case]:
    """Each Giskard prompt injection as a refusal case (skipped when the corpus is absent)."""
    prompts, meta = GISKARD / "prompt_injections.csv", GISKARD / "giskard_meta_data.csv"
    if not prompts.exists():
        return []
    with prompts.open(newline="") as f1, meta.open(newline="") as f2:
        expected = {row["index"]: row for row in csv.DictReader(f2)}
        rows = list(csv.DictReader(f1))
    cases = []
    for row in rows:
        strings = ast.literal_eval(expected[row["index"]]["expected_strings"])
        cases.append(
            Case(
                id=f"giskard-{row['index']}-{row['name']}",
                category="refusal",
                turns=[
                    Turn(
                        ask=row["prompt"],
                        forbidden=list(strings),
                        # nothing an injection says may be acted on: no loads, no memory writes
                        forbidden_tools=[
                            "ingest_file",
                            "start_pipeline_run",
                            "refresh_source",
                            "remember_preference",
                            "forget_memory",
                        ],
                    )
                ],
            )
        )
    return cases


def one_per_template(cases: list[Case]) -> list[Case]:
    """The first case of each template (an expanded case's id is `template[values]`), which keeps
    every category, every kind of question and every prompt injection in about half the turns."""
    seen: set[str] = set()
    picked = []
    for case in cases:
        template = case.id.split("[", 1)[0]
        if template not in seen:
            seen.add(template)
            picked.append(case)
    return picked


def load_cases(
    con: duckdb.DuckDBPyConnection, directory: Path = CASES_DIR, *, injections: bool = True
) -> list[Case]:
    """Every case in `directory`, placeholders bound on `con`, plus the injection corpus."""
    cases: list[Case] = []
    for path in sorted(directory.glob("*.yaml")):
        for raw in yaml.safe_load(path.read_text()) or []:
            cases.extend(_expand(_CaseTemplate(**raw), con))
    if injections:
        cases.extend(giskard_cases())
    ids = [c.id for c in cases]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise ValueError(f"duplicate case ids: {sorted(duplicates)}")
    return cases
