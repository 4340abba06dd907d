"""Fixtures of the query tests: the guard's inputs (PostgreSQL comes from tests/postgres.py)."""

from __future__ import annotations

import pytest

from core.settings import Settings
from core.warehouse import reading
from tools.query.guard import Schema
from tools.query.policy import Policy, load_policy
from tools.query.runner import warehouse_schema


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy()


@pytest.fixture(scope="session")
def schema(small_warehouse: Settings) -> Schema:
    with reading(small_warehouse) as con:
        return warehouse_schema(con, small_warehouse)


@pytest.fixture(scope="session")
def query_settings(small_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The small warehouse with its own data folder: audit files stay out of the shared one."""
    return Settings(
        data_dir=tmp_path_factory.mktemp("query") / "encore",
        warehouse_path=small_warehouse.warehouse_file,
    )
