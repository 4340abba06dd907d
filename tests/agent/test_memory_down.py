"""A memory store that cannot be opened leaves the agent answering without memory (DESIGN 5)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.build import open_memory
from agent.config import AgentSettings
from agent.service import AgentService
from core.settings import Settings


def test_a_damaged_memory_file_leaves_the_agent_answering_without_memory(
    tmp_path: Path,
    make_service: Callable[..., AgentService],
    caplog: pytest.LogCaptureFixture,
) -> None:
    data = tmp_path / "data"
    (data / "memory").mkdir(parents=True)
    (data / "memory" / "memory.sqlite3").write_bytes(b"this is not a database" * 100)
    with caplog.at_level(logging.WARNING, logger="agent"):
        memory = open_memory(Settings(data_dir=data), AgentSettings())  # raised before
        service = make_service("offline", memory=memory, user="mo")
        result = asyncio.run(service.ask("Which genres sold the most tickets?"))
    assert result.tables and "genre" in result.answer.lower()
    assert memory.preferences("mo").is_empty()
    assert any("answering without memory" in r.getMessage() for r in caplog.records)
