"""The code interpreter: analyses in a sandbox on a guarded data extract; results as data."""

from tools.interpreter.base import AnalysisResult, CodeSandbox, Limits
from tools.interpreter.local import LocalSandbox
from tools.interpreter.service import list_analysis_templates, run_analysis
from tools.interpreter.templates import AnalysisTemplate

__all__ = [
    "AnalysisResult",
    "AnalysisTemplate",
    "CodeSandbox",
    "Limits",
    "LocalSandbox",
    "list_analysis_templates",
    "run_analysis",
]
