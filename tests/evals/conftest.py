"""A trained copy of the small warehouse for running the eval suite against the real agent."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import Settings
from tests.conftest import copy_warehouse


@pytest.fixture(scope="session")
def eval_warehouse(
    trained_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """A copy of the trained small warehouse (what `encore demo` builds); memory and the audit
    log land in the copy, not in the shared one."""
    return copy_warehouse(trained_warehouse, Path(tmp_path_factory.mktemp("eval")), models=True)
