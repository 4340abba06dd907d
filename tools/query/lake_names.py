"""Names of the lake engine's relations: chosen so no warehouse table can be mistaken for one."""

from __future__ import annotations

from typing import Final

RAW_FILES: Final = "raw_files"
CURATED_PREFIX: Final = "curated_"


def is_lake_relation(name: str) -> bool:
    """Whether a table name belongs to the lake engine (by its naming, present or not)."""
    name = name.lower()
    return name == RAW_FILES or name.startswith(CURATED_PREFIX)
