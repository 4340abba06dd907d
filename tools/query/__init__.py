"""Safe warehouse queries: the semantic layer, the guarded SQL path, the audit and the catalog."""

from tools.query.audit import audit_log
from tools.query.catalog import describe_warehouse, semantic_catalog, vocabulary
from tools.query.runner import run_sql
from tools.query.semantic import semantic_query

__all__ = [
    "audit_log",
    "describe_warehouse",
    "run_sql",
    "semantic_catalog",
    "semantic_query",
    "vocabulary",
]
