"""An agent service whose build blocks the way starting an MCP server does, when asked to.

`ENCORE_UI_AGENT=<this file>:create`. A build that finds the file named by ENCORE_TEST_SLOW_MARK
takes it and sleeps SLOW_S seconds in the calling thread (a real build waits for the user's MCP
server that long or longer under load); every other build is instant. Its answer echoes the
question, so a test can tell whose answer came back.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.settings import Settings

SLOW_S = 6.0


@dataclass
class TextDelta:
    text: str


@dataclass
class TurnResult:
    answer: str
    tool_calls: list[Any] = field(default_factory=list)
    sql: list[str] = field(default_factory=list)
    tables: list[Any] = field(default_factory=list)
    charts: list[Any] = field(default_factory=list)
    latency_ms: float = 0.0
    session: str = ""


@dataclass
class TurnDone:
    result: TurnResult


class EchoService:
    def __init__(self, session: str) -> None:
        self.session = session

    async def stream(self, text: str) -> AsyncIterator[Any]:
        answer = f"echo: {text}"
        yield TextDelta(answer)
        yield TurnDone(TurnResult(answer=answer, session=self.session))

    def preferences(self) -> dict[str, Any]:
        return {}

    def set_preference(self, kind: str, value: Any) -> None:
        return None

    def forget(self, kind: str | None = None) -> None:
        return None

    async def aclose(self) -> None:
        return None


def create(
    settings: Settings, *, user: str, session: str | None, role: str, model: str | None
) -> EchoService:
    try:
        Path(os.environ["ENCORE_TEST_SLOW_MARK"]).unlink()
    except (KeyError, FileNotFoundError):
        pass
    else:
        time.sleep(SLOW_S)  # blocking, as MCPClient.start is
    return EchoService(session or "s")
