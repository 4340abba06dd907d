"""A write held back for confirmation is done when the user answers yes in the conversation,
and not when they answer no (DESIGN 6; the REST API and AgentCore have no buttons)."""

from __future__ import annotations

import asyncio

from agent.service import AgentService
from core.settings import Settings
from tests.conftest import query_warehouse


def test_yes_runs_the_held_back_pipeline_and_no_changes_nothing(
    private_service: tuple[Settings, AgentService],
) -> None:
    settings, service = private_service
    (settings.data_dir / "landing").mkdir(exist_ok=True)
    (settings.data_dir / "landing" / "fans.csv").write_text(
        "fan_id,city,age_band\nF-NEW-1,Austin,25-34\n"
    )

    async def talk(*texts: str) -> list[object]:
        return [await service.ask(text) for text in texts]

    asked, refused, _again, confirmed = asyncio.run(
        talk("Run the data pipelines now", "no", "Run the data pipelines now", "yes, go ahead")
    )
    assert "waits for your confirmation" in asked.answer  # type: ignore[attr-defined]
    assert refused.answer == "Cancelled: nothing was changed."  # type: ignore[attr-defined]
    assert not refused.tool_calls  # type: ignore[attr-defined]
    [call] = confirmed.tool_calls  # type: ignore[attr-defined]
    assert call.name == "start_pipeline_run" and call.input.get("confirm") is True
    assert confirmed.answer.startswith("Done.")  # type: ignore[attr-defined]
    assert query_warehouse(settings, "SELECT count(*) FROM fans WHERE fan_id = 'F-NEW-1'") == [(1,)]
