"""How table columns read, one set of rules for the answers' markdown tables and the terminal's.

A money column takes one unit from its largest amount ($2.15M next to $0.09M; nothing is $0);
a change in percent (`change_pct`) is signed (+313.6%); a share or retention column, and a
cohort table's months-after columns, are fractions read as percents (57%).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

_MONEY: Final = ("gross", "revenue", "price", "budget", "price_min", "price_max")
# amounts already in percent (change_pct: 313.6 is +313.6%) and fractions of a whole (0.57 is 57%)
_PERCENT_WORDS: Final = frozenset({"pct", "percent", "percentage"})
_SHARE_WORDS: Final = frozenset({"share", "retention", "retained"})
# labels rather than quantities: 2020 is a year, not two thousand and twenty of something
_LABEL_WORDS: Final = frozenset({"year", "yr", "season", "decade", "id"})


def is_number(value: Any) -> bool:
    """A real number: not a bool, not text."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _words(column: str) -> set[str]:
    return set(re.split(r"[^a-z0-9]+", column.lower()))


def is_change(column: str) -> bool:
    """A column already in percent, a change: change_pct, growth_percent."""
    return not _PERCENT_WORDS.isdisjoint(_words(column))


def is_share(column: str) -> bool:
    """A column of fractions of a whole: share, retention, retained."""
    return not _SHARE_WORDS.isdisjoint(_words(column))


def money(value: float, largest: float, smallest: float) -> str:
    """An amount in its column's unit, chosen from the column's largest amount (so $93.3K and
    $2,150K never sit in one column: $0.09M and $2.15M do); the decimals keep the smallest
    amount from reading as nothing. Nothing at all reads $0, not $0.0K."""
    if value == 0:
        return "$0"
    small = abs(smallest)
    if largest >= 1e6:  # $4,275 beside $2.15M reads $0.0043M, not $0.00M
        places = 1 if small >= 1e5 else 2 if small >= 5e3 else 3 if small >= 5e2 else 4
        return f"${value / 1e6:,.{places}f}M"
    if largest >= 1e4:
        places = 0 if largest >= 1e5 and small >= 1e4 else 1 if small >= 50 else 2
        return f"${value / 1e3:,.{places}f}K"
    return f"${value:,.2f}" if largest < 1e3 else f"${value:,.0f}"


def _is_label(column: str) -> bool:
    """Year-like or id columns (year, formed_year, season, venue_id), read without separators."""
    return not _LABEL_WORDS.isdisjoint(re.split(r"[^a-z0-9]+", column.lower()))


def fmt(value: Any, column: str = "", unit: tuple[float, float] | None = None) -> str:
    """A number as people read it: 12,345 tickets; $1.2M; 87%; the year 2020. In a table,
    money takes its unit from `unit` (the column's largest and smallest amounts), so one
    column never mixes $93.3K with $2,150K; alone, from the value itself."""
    if not is_number(value):
        return "" if value is None else str(value)
    if _is_label(column) and float(value).is_integer():
        return str(int(value))
    if is_change(column):  # already in percent: a change, signed
        return f"{value:+,.1f}%"
    if is_share(column) and abs(value) <= 1.5:
        return f"{value:.0%}"
    if any(k in column for k in _MONEY):
        if unit is not None:
            return money(value, *unit)
        if abs(value) >= 1e6:
            return f"${value / 1e6:.1f}M"
        if abs(value) >= 1e4:
            return f"${value / 1e3:.0f}K"
        return f"${value:,.2f}" if value % 1 else f"${value:,.0f}"
    if "sell_through" in column or column in ("confidence", "score"):
        return f"{value:.0%}" if value <= 1.5 else f"{value:,.2f}"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def extent(values: Sequence[Any]) -> tuple[float, float] | None:
    """A column's largest and smallest non-zero amounts, the unit its money takes."""
    amounts = [abs(v) for v in values if is_number(v) and v]
    return (max(amounts), min(amounts)) if amounts else None


def meanings(columns: Sequence[str]) -> list[str]:
    """The columns as the rules read them: a cohort table's columns are months after the first,
    each value the share still buying."""
    return ["share" if "cohort" in columns and c.isdigit() else c for c in columns]


def units(table: dict[str, Any]) -> list[tuple[float, float] | None]:
    """Each column's money unit, from all its rows: the same whether a table shows 10 rows (the
    answer's markdown), 20 (the terminal) or every one (the chat UI's grid), and in the sentence
    that leads it."""
    rows: list[Sequence[Any]] = table["rows"]
    return [extent([r[i] for r in rows if i < len(r)]) for i in range(len(table["columns"]))]


def markdown(table: dict[str, Any], limit: int = 10) -> str:
    """The first rows of a table in markdown."""
    cols: list[str] = table["columns"]
    shown = table["rows"][:limit]
    unit = units(table)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in shown:
        cells = (fmt(v, c, u) for c, v, u in zip(meanings(cols), row, unit, strict=False))
        lines.append("| " + " | ".join(cells) + " |")
    if len(table["rows"]) > limit:
        lines.append(f"\n…and {len(table['rows']) - limit} more rows.")
    return "\n".join(lines)
