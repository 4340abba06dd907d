"""'Ingest the file PATH' asks to load that file, held back until the user says yes (DESIGN 6;
the audit found it 'outside what I understand')."""

from __future__ import annotations

import asyncio

from agent.service import AgentService
from core.settings import Settings
from tests.conftest import query_warehouse


def test_a_named_file_is_ingested_once_confirmed(
    private_service: tuple[Settings, AgentService],
) -> None:
    settings, service = private_service
    upload = settings.data_dir / "uploads" / "fans_new.csv"
    upload.parent.mkdir(exist_ok=True)
    upload.write_text("fan_id,city,age_band\nF-UP-1,Austin,25-34\n")

    async def talk(*texts: str) -> list[object]:
        return [await service.ask(text) for text in texts]

    asked, confirmed = asyncio.run(talk(f"Ingest the file {upload}", "yes"))
    [held] = asked.tool_calls  # type: ignore[attr-defined]
    assert held.name == "ingest_file" and held.input == {"path": str(upload), "confirm": False}
    assert "waits for your confirmation" in asked.answer  # type: ignore[attr-defined]
    [done] = confirmed.tool_calls  # type: ignore[attr-defined]
    assert done.input == {"path": str(upload), "confirm": True}
    assert query_warehouse(settings, "SELECT count(*) FROM fans WHERE fan_id = 'F-UP-1'") == [(1,)]
