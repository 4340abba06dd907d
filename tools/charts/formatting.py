"""Readable labels and number formats derived from column names."""

from __future__ import annotations

import re

_CURRENCY = re.compile(r"gross|revenue|price|budget|amount|spend|cost", re.IGNORECASE)
_PERCENT = re.compile(r"sell_through|rate|ratio|share|pct|percent", re.IGNORECASE)
_ACRONYMS = {"id": "ID", "usd": "USD", "us": "US"}
_SPECIAL = {"sell_through": "Sell-through", "avg_ticket_price": "Average ticket price"}


def label(column: str) -> str:
    """`tickets_sold` -> `Tickets sold`; `sell_through` -> `Sell-through`."""
    if column.lower() in _SPECIAL:
        return _SPECIAL[column.lower()]
    words = [w for w in re.split(r"[_\s]+", column.strip()) if w]
    if not words:
        return column
    words = [_ACRONYMS.get(w.lower(), w.lower()) for w in words]
    first = words[0]
    words[0] = first if first.isupper() else first[:1].upper() + first[1:]
    return " ".join(words)


def is_currency(column: str) -> bool:
    """Money columns get a dollar sign."""
    return bool(_CURRENCY.search(column))


def is_percent(column: str) -> bool:
    """Fractions in 0..1 (sell-through, rates) are shown as percentages."""
    return bool(_PERCENT.search(column))


def tick_format(column: str) -> tuple[str, str]:
    """(tickprefix, tickformat) for a numeric axis: thousands separators, $ or %."""
    if is_percent(column):
        return "", ".0%"
    if is_currency(column):
        return "$", ",.0f"
    return "", ",.0f"


def hover_format(column: str) -> str:
    """A d3 format for a value in hover text (`%{y:$,.0f}` style, without the braces)."""
    if is_percent(column):
        return ".1%"
    if is_currency(column):
        return "$,.2f"
    return ",.2~f"


def title_for(kind: str, x: str | None, y: str | None, color: str | None) -> str:
    """A default title that says what is plotted against what."""
    if kind == "map":
        return f"{label(y)} by location" if y else "Venues"
    if kind == "heatmap" and x and y and color:
        return f"{label(color)} by {label(y).lower()} and {label(x).lower()}"
    if kind == "scatter" and x and y:
        return f"{label(y)} vs {label(x).lower()}"
    if x and y:
        return f"{label(y)} by {label(x).lower()}"
    return label(y or x or kind)
