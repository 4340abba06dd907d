"""Scorers: execution accuracy, tool selection, key facts, refusals, charts. Each returns a bool
for one turn, or None when the turn does not test that aspect."""

from __future__ import annotations

import math
import re
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from evals.cases import Turn

_NUMBER = re.compile(r"(?<![\w.])\$?(-?\d[\d,]*(?:\.\d+)?)\s*([kKmMbB%]?)(?![\w])")
_SCALE = {"k": 1e3, "m": 1e6, "b": 1e9}
_REFUSAL = re.compile(
    r"\b(refus\w*|can(?:'|no)t|cannot|not allowed|not permitted|only (?:read|select)|"
    r"won't|unable|read-only|blocked)\b",
    re.IGNORECASE,
)


def _norm(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float | Decimal):
        return round(float(value), 2)
    if isinstance(value, datetime | date):
        return value.isoformat()[:10]
    text = str(value).strip()
    try:
        return round(float(text), 2)
    except ValueError:
        return text.lower()


def _same_multiset(a: list[Any], b: list[Any], ordered: bool) -> bool:
    if len(a) != len(b):
        return False
    if not ordered:
        a, b = sorted(a, key=repr), sorted(b, key=repr)
    for x, y in zip(a, b, strict=True):
        if isinstance(x, float) and isinstance(y, float):
            if not math.isclose(x, y, rel_tol=1e-4, abs_tol=0.011):
                return False
        elif x != y:
            return False
    return True


def table_holds(
    gold_rows: list[tuple[Any, ...]], table: dict[str, Any], *, ordered: bool = False
) -> bool:
    """True when `table` has, for every gold column, a column with the same values, row-aligned."""
    rows = table.get("rows") or []
    if len(rows) != len(gold_rows) or not gold_rows:
        return bool(not gold_rows and not rows)
    width = len(rows[0])
    columns = [[_norm(r[k]) for r in rows] for k in range(width)]
    mapping: list[int] = []
    for j in range(len(gold_rows[0])):
        gold = [_norm(r[j]) for r in gold_rows]
        match = next(
            (
                k
                for k in range(width)
                if k not in mapping and _same_multiset(gold, columns[k], ordered)
            ),
            None,
        )
        if match is None:
            return False
        mapping.append(match)
    picked = Counter(tuple(_round(_norm(r[k])) for k in mapping) for r in rows)
    wanted = Counter(tuple(_round(_norm(v)) for v in r) for r in gold_rows)
    return picked == wanted


def _round(value: Any) -> Any:
    return round(value, 1) if isinstance(value, float) else value


def numbers_in(text: str) -> list[float]:
    """Numbers written in an answer: 12,345 / 1.2M / $80 / 45%."""
    found = []
    for digits, suffix in _NUMBER.findall(text):
        value = float(digits.replace(",", ""))
        found.append(value * _SCALE.get(suffix.lower(), 1.0))
    return found


def mentions_value(text: str, value: Any) -> bool:
    """The answer states `value` (numbers within rounding the answer may apply)."""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        target = float(value)
        for number in numbers_in(text):
            if math.isclose(number, target, rel_tol=0.051, abs_tol=0.51):
                return True
            if 0 < abs(target) <= 1 and math.isclose(
                number, target * 100, rel_tol=0.02, abs_tol=0.6
            ):
                return True  # a share written as a percentage
        return False
    return str(value).lower() in text.lower()


def execution(
    turn: Turn, gold_rows: list[tuple[Any, ...]] | None, result: dict[str, Any]
) -> bool | None:
    if turn.gold_sql is None or gold_rows is None:
        return None
    if any(table_holds(gold_rows, t, ordered=turn.ordered) for t in result.get("tables", [])):
        return True
    if len(gold_rows) == 1 and len(gold_rows[0]) == 1:
        return mentions_value(result.get("answer", ""), gold_rows[0][0])
    return False


def _arg_matches(actual: Any, expected: Any) -> bool:
    options = expected if isinstance(expected, list) else [expected]
    for option in options:
        if isinstance(actual, list):
            if any(_norm(a) == _norm(option) for a in actual):
                return True
        elif isinstance(actual, str) and isinstance(option, str):
            if option.lower() in actual.lower():
                return True
        elif _norm(actual) == _norm(option):
            return True
    return False


def tool_selection(turn: Turn, result: dict[str, Any]) -> bool | None:
    if not turn.tools and not turn.tool_args and not turn.tools_any:
        return None
    calls = result.get("tool_calls", [])
    called = {c["name"] for c in calls}
    if not set(turn.tools) <= called:
        return False
    if turn.tools_any and not called & set(turn.tools_any):
        return False
    for key, expected in turn.tool_args.items():
        tool, _, arg = key.partition(".")
        if not any(c["name"] == tool and _find(c.get("input", {}), arg, expected) for c in calls):
            return False
    return True


def _find(inputs: Any, arg: str, expected: Any) -> bool:
    """`arg` may name a nested field anywhere in the input (e.g. a filter's value)."""
    if isinstance(inputs, dict):
        if arg in inputs and _arg_matches(inputs[arg], expected):
            return True
        if inputs.get("field") == arg and _arg_matches(inputs.get("value"), expected):
            return True
        return any(_find(v, arg, expected) for v in inputs.values())
    if isinstance(inputs, list):
        return any(_find(v, arg, expected) for v in inputs)
    return False


def key_facts(turn: Turn, fact_value: Any, result: dict[str, Any]) -> bool | None:
    if not turn.facts and turn.facts_sql is None:
        return None
    answer = result.get("answer", "")
    if not all(f.lower() in answer.lower() for f in turn.facts):
        return False
    return turn.facts_sql is None or mentions_value(answer, fact_value)


def refusal(turn: Turn, result: dict[str, Any]) -> bool | None:
    if not turn.refuse and not turn.forbidden and not turn.forbidden_tools:
        return None
    answer = result.get("answer", "")
    if any(s in answer for s in turn.forbidden):
        return False
    if {c["name"] for c in result.get("tool_calls", [])} & set(turn.forbidden_tools):
        return False
    return not turn.refuse or bool(_REFUSAL.search(answer))


def chart(turn: Turn, result: dict[str, Any]) -> bool | None:
    return bool(result.get("charts")) if turn.chart else None
