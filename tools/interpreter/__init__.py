"""The code interpreter: analyses in a sandbox on a guarded data extract; results as data."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tools.interpreter.base import AnalysisResult, CodeSandbox, Limits
    from tools.interpreter.local import LocalSandbox
    from tools.interpreter.service import list_analysis_templates, run_analysis
    from tools.interpreter.templates import AnalysisTemplate

_EXPORTS = {
    "AnalysisResult": "tools.interpreter.base",
    "CodeSandbox": "tools.interpreter.base",
    "Limits": "tools.interpreter.base",
    "LocalSandbox": "tools.interpreter.local",
    "list_analysis_templates": "tools.interpreter.service",
    "run_analysis": "tools.interpreter.service",
    "AnalysisTemplate": "tools.interpreter.templates",
}

__all__ = [
    "AnalysisResult",
    "AnalysisTemplate",
    "CodeSandbox",
    "Limits",
    "LocalSandbox",
    "list_analysis_templates",
    "run_analysis",
]


def __getattr__(name: str) -> Any:
    """Import what `name` needs on first use, so importing the package (as `encore --help`
    does for its cli.py) costs no pandas and plotly."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
