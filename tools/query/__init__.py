"""Safe warehouse queries: the semantic layer, the guarded SQL path, the audit and the catalog."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tools.query.audit import audit_log
    from tools.query.catalog import describe_warehouse, semantic_catalog, vocabulary
    from tools.query.runner import run_sql
    from tools.query.semantic import semantic_query

_EXPORTS = {
    "audit_log": "tools.query.audit",
    "describe_warehouse": "tools.query.catalog",
    "semantic_catalog": "tools.query.catalog",
    "vocabulary": "tools.query.catalog",
    "run_sql": "tools.query.runner",
    "semantic_query": "tools.query.semantic",
}

__all__ = [
    "audit_log",
    "describe_warehouse",
    "run_sql",
    "semantic_catalog",
    "semantic_query",
    "vocabulary",
]


def __getattr__(name: str) -> Any:
    """Import what `name` needs on first use, so importing the package (as `encore --help`
    does for its cli.py) costs no sqlglot and DuckDB."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
