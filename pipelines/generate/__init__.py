"""The synthetic demo-data generator: realistic, referentially intact, deterministic by seed."""

from pipelines.generate.generator import Chunk, generate
from pipelines.generate.scales import SCALES, Scale, ScaleName

__all__ = ["SCALES", "Chunk", "Scale", "ScaleName", "generate"]
