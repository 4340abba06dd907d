"""The code interpreter: analyses in a sandbox on a guarded data extract; results as data."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.lazy import lazy_exports

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


# imported on first use: importing the package (as `encore --help` does) costs no pandas and plotly
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
