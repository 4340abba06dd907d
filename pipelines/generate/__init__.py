"""The synthetic demo-data generator: realistic, referentially intact, deterministic by seed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.lazy import lazy_exports
from pipelines.generate.scales import SCALES, Scale, ScaleName

if TYPE_CHECKING:
    from pipelines.generate.generator import Chunk, generate

_EXPORTS = {"Chunk": "pipelines.generate.generator", "generate": "pipelines.generate.generator"}

__all__ = ["SCALES", "Chunk", "Scale", "ScaleName", "generate"]


# imported on first use: importing the package (as `encore --help` does) costs no pandas and pyarrow
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
