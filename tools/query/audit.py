"""The query audit trail: who ran what, when, on which tables, and what the guard decided;
tools with SQL of their own are audited by tool name and arguments (`audited`).

Kept in SQLite (`<data_dir>/audit.sqlite`), not in the warehouse: DuckDB admits one writing
process, and a read-only query must never need the write lock. SQLite in WAL mode with a busy
timeout lets many processes append at once.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

from pydantic import BaseModel

from core.errors import EncoreError
from core.settings import Settings
from tools.context import ToolContext

Decision = Literal["allowed", "refused", "timeout", "error"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS query_audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    user        TEXT NOT NULL,
    role        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    sql         TEXT NOT NULL,
    tables      TEXT NOT NULL,
    rows        INTEGER,
    decision    TEXT NOT NULL,
    reason      TEXT,
    duration_ms REAL
)
"""


class AuditEntry(BaseModel):
    """One audited query."""

    id: int
    at: str
    user: str
    role: str
    kind: str
    sql: str
    tables: list[str]
    rows: int | None
    decision: Decision
    reason: str | None
    duration_ms: float | None


class AuditLog(BaseModel):
    """The most recent audited queries, newest first."""

    entries: list[AuditEntry]


def audit_path(settings: Settings) -> Path:
    return settings.data_dir / "audit.sqlite"


def _connect(settings: Settings) -> sqlite3.Connection:
    path = audit_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=30)
    con.execute("PRAGMA journal_mode=WAL")
    # WAL with synchronous=NORMAL stays consistent across crashes; only a power cut may drop
    # the latest rows, and it saves an fsync on every query
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute(_SCHEMA)
    return con


def record(
    ctx: ToolContext,
    *,
    sql: str,
    decision: Decision,
    kind: str = "sql",
    tables: Sequence[str] = (),
    rows: int | None = None,
    reason: str | None = None,
    duration_ms: float | None = None,
) -> None:
    """Append one audit row (its own short transaction)."""
    at = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
    with closing(_connect(ctx.settings)) as con, con:
        con.execute(
            "INSERT INTO query_audit (at, user, role, kind, sql, tables, rows, decision, reason,"
            " duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (at, ctx.user, ctx.role, kind, sql, json.dumps(sorted(set(tables))), rows, decision,
             reason, duration_ms),
        )  # fmt: skip


def audit_log(ctx: ToolContext, limit: int = 50) -> AuditLog:
    """Recent audited queries, newest first; admins see everyone's, others only their own."""
    limit = max(1, min(int(limit), 10_000))
    where, params = ("", ()) if ctx.role == "admin" else ("WHERE user = ?", (ctx.user,))
    with closing(_connect(ctx.settings)) as con:
        rows = con.execute(
            f"SELECT id, at, user, role, kind, sql, tables, rows, decision, reason, duration_ms "
            f"FROM query_audit {where} ORDER BY id DESC LIMIT ?",
            (*params, limit),
        ).fetchall()
    return AuditLog(
        entries=[
            AuditEntry(
                id=r[0],
                at=r[1],
                user=r[2],
                role=r[3],
                kind=r[4],
                sql=r[5],
                tables=json.loads(r[6]),
                rows=r[7],
                decision=r[8],
                reason=r[9],
                duration_ms=r[10],
            )
            for r in rows
        ]
    )


F = TypeVar("F", bound=Callable[..., Any])


def audited(*tables: str) -> Callable[[F], F]:
    """Audit each call of a tool that reads the warehouse with SQL of its own (a profile, a
    ranking, a forecast) like a query: who, when, the tool and its arguments, the tables it
    reads, the rows it returned, allowed, or refused with the reason (e.g. an unknown name)."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def call(ctx: ToolContext, /, *args: Any, **kwargs: Any) -> Any:
            text = f"{fn.__name__}({json.dumps(kwargs, default=str, sort_keys=True)})"
            started = time.perf_counter()
            try:
                result = fn(ctx, *args, **kwargs)
            except EncoreError as exc:
                record(ctx, sql=text, kind="tool", decision="refused", tables=tables,
                       reason=exc.message, duration_ms=_ms_since(started))  # fmt: skip
                raise
            record(ctx, sql=text, kind="tool", decision="allowed", tables=tables,
                   rows=_rows_of(result), duration_ms=_ms_since(started))  # fmt: skip
            return result

        return cast(F, call)

    return wrap


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _rows_of(result: Any) -> int | None:
    """How many rows a tool's result holds: its table's, else its list of items'."""
    for name in ("rows", "items", "predictions"):
        value = getattr(result, name, None)
        if isinstance(value, list):
            return len(value)
    table = getattr(result, "table", None)
    rows = getattr(table, "rows", None)
    return len(rows) if isinstance(rows, list) else None
