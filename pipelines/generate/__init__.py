"""The synthetic demo-data generator: realistic, referentially intact, deterministic by seed."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pipelines.generate.scales import SCALES, Scale, ScaleName

if TYPE_CHECKING:
    from pipelines.generate.generator import Chunk, generate

_EXPORTS = {"Chunk": "pipelines.generate.generator", "generate": "pipelines.generate.generator"}

__all__ = ["SCALES", "Chunk", "Scale", "ScaleName", "generate"]


def __getattr__(name: str) -> Any:
    """Import the generator on first use, so importing the package (as `encore --help` does
    for the scale names) costs no pandas and pyarrow."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
