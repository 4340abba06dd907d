"""A small generated dataset and warehouse, built once per test session."""

from __future__ import annotations

from datetime import date

import duckdb
import pyarrow as pa
import pytest

from core.settings import Settings
from pipelines.generate import SCALES, generate
from pipelines.sinks.warehouse import rebuild

AS_OF = date(2026, 6, 15)


@pytest.fixture(scope="session")
def small_tables() -> dict[str, pa.Table]:
    """The small dataset (seed 7), each table concatenated from its chunks."""
    parts: dict[str, list[pa.Table]] = {}
    for name, chunk in generate(SCALES["small"], 7, AS_OF):
        parts.setdefault(name, []).append(chunk)
    return {name: pa.concat_tables(chunks) for name, chunks in parts.items()}


@pytest.fixture(scope="session")
def small_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of a warehouse holding the small dataset (seed 7)."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("small") / "encore")
    rebuild(
        settings,
        generate(SCALES["small"], 7, AS_OF),
        source="generator",
        parameters={"scale": "small", "seed": 7, "as_of": AS_OF.isoformat()},
    )
    return settings


@pytest.fixture
def small_db(small_settings: Settings) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the small warehouse."""
    con = duckdb.connect(str(small_settings.warehouse_file), read_only=True)
    yield con
    con.close()
