"""Result shapes shared by the tools: a table, and a table with the SQL that produced it."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any, Final

from pydantic import BaseModel, Field


def _jsonable(value: Any) -> Any:
    """A warehouse value as JSON: dates as ISO text, decimals as floats."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


class Table(BaseModel):
    """Rows with named columns; values are JSON types (dates as ISO strings)."""

    columns: list[str]
    rows: list[list[Any]] = Field(default_factory=list)

    @classmethod
    def from_rows(cls, columns: list[str], rows: list[tuple[Any, ...]]) -> Table:
        return cls(columns=columns, rows=[[_jsonable(v) for v in row] for row in rows])

    def records(self) -> list[dict[str, Any]]:
        """The rows as dictionaries keyed by column name."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


class QueryResult(Table):
    """A query's answer, always with the SQL that ran (DESIGN §6: the SQL goes with the result)."""

    sql: str
    row_count: int
    truncated: bool = Field(False, description="true when the row limit cut the result")


_CONFIRM_NOTE: Final = re.compile(r";?\s*call again with confirm=true[^.;]*", re.IGNORECASE)


def held_back_action(message: str) -> str:
    """What a write tool held back for confirmation would do: its message without the note to
    the model about confirm=true, as the start of a sentence ("Run the landing folder ...")."""
    text = _CONFIRM_NOTE.sub("", message).strip().rstrip(";.")
    return text[:1].upper() + text[1:]
