"""Table cells as people read them, the same in the chat UI's grids and the terminal's tables:
91% for a sell-through of 0.913, $75.7K for a gross of 75730.05, 12,345 tickets, the year 2025.

Which columns are money or fractions comes from `tools.charts.formatting` (the charts' axes use
it too); a money column takes one unit from its smallest amount, as the answers' markdown tables
do, so a column never mixes $7,990 with $11K. The data behind (CSV downloads, charts) keeps the
raw numbers. No pandas or chainlit import here: the CLI uses this module too.
"""

from __future__ import annotations

import re
from typing import Any, Final

from tools.charts.formatting import is_currency, is_percent
from tools.results import Table

# labels rather than quantities: 2020 is a year, not two thousand and twenty of something
_LABEL_WORDS: Final = frozenset({"year", "yr", "season", "decade", "id", "rank", "month", "week"})
# fractions in 0..1 besides the names is_percent knows
_FRACTION_NAMES: Final = frozenset({"confidence", "probability"})


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _words(column: str) -> set[str]:
    return set(re.split(r"[^a-z0-9]+", column.lower()))


def _is_fraction_column(column: str, values: list[float]) -> bool:
    named = is_percent(column) or not _FRACTION_NAMES.isdisjoint(_words(column))
    return named and all(abs(v) <= 1.5 for v in values)  # a "rate" of 12.5 is not a fraction


def _money(value: float, unit: float) -> str:
    if unit >= 1e6:
        return f"${value / 1e6:,.1f}M"
    if unit >= 1e4:
        return f"${value / 1e3:,.1f}K" if abs(value) < 1e5 else f"${value / 1e3:,.0f}K"
    return f"${value:,.2f}" if unit < 1e3 else f"${value:,.0f}"


def column_formatter(column: str, values: list[Any]) -> Any:
    """A function formatting the cells of one column, chosen from its name and its values."""
    numbers = [float(v) for v in values if _is_number(v)]
    if not _LABEL_WORDS.isdisjoint(_words(column)) and all(n.is_integer() for n in numbers):

        def label(value: Any) -> str:
            return str(int(value)) if _is_number(value) else _plain(value)

        return label
    if numbers and _is_fraction_column(column, numbers):

        def percent(value: Any) -> str:
            return f"{value:.0%}" if _is_number(value) else _plain(value)

        return percent
    if numbers and is_currency(column):
        unit = min((abs(n) for n in numbers if n), default=0.0)

        def money(value: Any) -> str:
            return _money(float(value), unit) if _is_number(value) else _plain(value)

        return money
    return _plain


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if _is_number(value):
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
    return str(value)


def display_rows(table: Table, limit: int | None = None) -> list[list[str]]:
    """The table's rows (the first `limit`) as display text, column by column."""
    rows = [list(row) for row in (table.rows if limit is None else table.rows[:limit])]
    formatters = [
        column_formatter(column, [row[i] for row in rows if i < len(row)])
        for i, column in enumerate(table.columns)
    ]
    return [[f(row[i]) if i < len(row) else "" for i, f in enumerate(formatters)] for row in rows]
