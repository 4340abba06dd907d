"""Safe warehouse queries: the semantic layer, the guarded SQL path, the audit and the catalog."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.lazy import lazy_exports

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


# imported on first use: importing the package (as `encore --help` does) costs no sqlglot and DuckDB
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
