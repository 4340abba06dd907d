"""Table cells as people read them, the same in the chat UI's grids and the terminal's tables:
91% for a sell-through of 0.913, $75.7K for a gross of 75730.05, 12,345 tickets, the year 2025.

The rules are the answers' markdown tables' (`agent.formatting`): a money column takes one unit
from its largest amount ($2.15M next to $0.09M, nothing is $0); a change in percent is signed
(+313.6%); a share or retention column, and a cohort table's months-after columns, read as
percents (57%). Which further columns are money or fractions comes from `tools.charts.formatting`
(the charts' axes use it too). The data behind (CSV downloads, charts) keeps the raw numbers.
No pandas or chainlit import here: the CLI uses this module too.
"""

from __future__ import annotations

import re
from typing import Any, Final

from agent.formatting import extent, is_change, is_number, is_share, meanings, money
from tools.charts.formatting import is_currency, is_percent
from tools.results import Table

# labels rather than quantities: 2020 is a year, not two thousand and twenty of something
_LABEL_WORDS: Final = frozenset({"year", "yr", "season", "decade", "id", "rank", "month", "week"})
# fractions in 0..1 besides the names is_percent knows
_FRACTION_NAMES: Final = frozenset({"confidence", "probability"})


def _words(column: str) -> set[str]:
    return set(re.split(r"[^a-z0-9]+", column.lower()))


def _is_fraction_column(column: str, values: list[float]) -> bool:
    named = is_share(column) or is_percent(column) or not _FRACTION_NAMES.isdisjoint(_words(column))
    return named and all(abs(v) <= 1.5 for v in values)  # a "rate" of 12.5 is not a fraction


def column_formatter(column: str, values: list[Any]) -> Any:
    """A function formatting the cells of one column, chosen from its name and its values."""
    numbers = [float(v) for v in values if is_number(v)]
    if not _LABEL_WORDS.isdisjoint(_words(column)) and all(n.is_integer() for n in numbers):

        def label(value: Any) -> str:
            return str(int(value)) if is_number(value) else _plain(value)

        return label
    if numbers and is_change(column):  # already in percent: a change, signed

        def change(value: Any) -> str:
            return f"{value:+,.1f}%" if is_number(value) else _plain(value)

        return change
    if numbers and _is_fraction_column(column, numbers):

        def percent(value: Any) -> str:
            return f"{value:.0%}" if is_number(value) else _plain(value)

        return percent
    if numbers and is_currency(column):
        largest, smallest = extent(numbers) or (0.0, 0.0)

        def amount(value: Any) -> str:
            return money(float(value), largest, smallest) if is_number(value) else _plain(value)

        return amount
    return _plain


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if is_number(value):
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
    return str(value)


def display_rows(table: Table, limit: int | None = None) -> list[list[str]]:
    """The table's rows (the first `limit`) as display text, column by column."""
    rows = [list(row) for row in (table.rows if limit is None else table.rows[:limit])]
    formatters = [
        column_formatter(meaning, [row[i] for row in rows if i < len(row)])
        for i, meaning in enumerate(meanings(table.columns))
    ]
    return [[f(row[i]) if i < len(row) else "" for i, f in enumerate(formatters)] for row in rows]
