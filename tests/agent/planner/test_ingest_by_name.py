"""'Ingest the file PATH' asks to load that file, held back until the user says yes (DESIGN 6;
the audit found it 'outside what I understand')."""

from __future__ import annotations

import asyncio
from pathlib import Path

from agent.memory.local import LocalMemory
from agent.service import AgentService
from core.settings import Settings
from tests.agent.conftest import agent_settings
from tests.conftest import copy_warehouse, query_warehouse


def test_a_named_file_is_ingested_once_confirmed(small_warehouse: Settings, tmp_path: Path) -> None:
    settings = copy_warehouse(small_warehouse, tmp_path / "copy")
    upload = settings.data_dir / "uploads" / "fans_new.csv"
    upload.parent.mkdir(exist_ok=True)
    upload.write_text("fan_id,city,age_band\nF-UP-1,Austin,25-34\n")
    service = AgentService.create(
        settings, user="ops", role="analyst", model="offline",
        memory=LocalMemory(tmp_path / "memory"), agent_settings=agent_settings(),
    )  # fmt: skip

    async def talk(*texts: str) -> list[object]:
        return [await service.ask(text) for text in texts]

    try:
        asked, confirmed = asyncio.run(talk(f"Ingest the file {upload}", "yes"))
    finally:
        asyncio.run(service.aclose())
    [held] = asked.tool_calls  # type: ignore[attr-defined]
    assert held.name == "ingest_file" and held.input == {"path": str(upload), "confirm": False}
    assert "waits for your confirmation" in asked.answer  # type: ignore[attr-defined]
    [done] = confirmed.tool_calls  # type: ignore[attr-defined]
    assert done.input == {"path": str(upload), "confirm": True}
    assert query_warehouse(settings, "SELECT count(*) FROM fans WHERE fan_id = 'F-UP-1'") == [(1,)]
