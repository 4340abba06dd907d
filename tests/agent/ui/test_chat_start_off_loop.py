"""Starting a chat builds its agent service off the UI's event loop: while one chat's service is
being built (which waits for the user's MCP server, seconds under load), another chat of the same
UI process still gets its answers.

`encore ui` runs with an agent whose build blocks when told to (slow_start_service.py); two
Socket.IO clients speak Chainlit's own protocol to it, as two browser tabs would.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio

from tests.agent.ui.conftest import running_ui
from tests.agent.ui.slow_start_service import SLOW_S

SERVICE = Path(__file__).with_name("slow_start_service.py")


class Ui:
    def __init__(self, url: str, user: str, password: str, mark: Path) -> None:
        self.url, self.user, self.password, self.mark = url, user, password, mark


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ui]:
    data = tmp_path_factory.mktemp("slow-start") / "encore"
    mark = data.parent / "slow-next-build"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENCORE_")}
    env |= {
        "ENCORE_DATA_DIR": str(data),
        "ENCORE_UI_AGENT": f"{SERVICE}:create",
        "ENCORE_TEST_SLOW_MARK": str(mark),
        "AWS_EC2_METADATA_DISABLED": "true",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    with running_ui(env, data.parent / "encore-ui.log") as (url, user, password):
        yield Ui(url, user, password, mark)


class Chat:
    """One browser tab's chat: a Socket.IO session with every event it received, timed."""

    def __init__(self, ui: Ui, cookie: str) -> None:
        self.ui, self.cookie = ui, cookie
        self.client = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[float, str, Any]] = []
        self.client.on("*", self._record)

    async def _record(self, event: str, data: Any = None) -> None:
        self.events.append((time.monotonic(), event, data))

    async def start(self) -> None:
        auth = {"clientType": "webapp", "sessionId": str(uuid.uuid4()), "threadId": None,
                "userEnv": "{}", "chatProfile": None}  # fmt: skip
        await self.client.connect(
            self.ui.url,
            socketio_path="/ws/socket.io",
            headers={"Cookie": self.cookie},
            auth=auth,
            transports=["websocket"],
        )
        await self.client.emit("connection_successful")

    async def say(self, text: str) -> None:
        message = {"id": str(uuid.uuid4()), "createdAt": datetime.now(UTC).isoformat(),
                   "output": text, "type": "user_message", "name": self.ui.user}  # fmt: skip
        await self.client.emit("client_message", {"message": message, "fileReferences": []})

    def when(self, event: str, text: str = "") -> float | None:
        """When an `event` (whose data mentions `text`) first arrived."""
        for at, name, data in self.events:
            if name == event and text in str(data):
                return at
        return None

    async def wait_for(self, event: str, text: str = "", limit_s: float = 60) -> float:
        deadline = time.monotonic() + limit_s
        while (at := self.when(event, text)) is None:
            if time.monotonic() > deadline:
                seen = [(name, str(data)[:300]) for _, name, data in self.events]
                raise AssertionError(f"no {event!r} with {text!r} within {limit_s} s; saw {seen}")
            await asyncio.sleep(0.05)
        return at


def _sign_in(ui: Ui) -> str:
    with httpx.Client(base_url=ui.url, trust_env=False) as http:
        answer = http.post("/login", data={"username": ui.user, "password": ui.password})
        answer.raise_for_status()
        return "; ".join(f"{k}={v}" for k, v in http.cookies.items())


def test_a_chat_answers_while_another_chats_agent_is_being_built(ui: Ui) -> None:
    cookie = _sign_in(ui)

    async def scenario() -> None:
        ready, starting = Chat(ui, cookie), Chat(ui, cookie)
        try:
            await ready.start()
            await ready.wait_for("chat_settings")  # its service is built: it can answer
            ui.mark.touch()  # the next build blocks, as one waiting for an MCP server does
            await starting.start()
            deadline = time.monotonic() + 30
            while ui.mark.exists() and time.monotonic() < deadline:
                await asyncio.sleep(0.02)  # until that build has begun
            assert not ui.mark.exists(), "the second chat's service build did not begin"
            built_from = time.monotonic()
            await ready.say("still there?")
            answered = await ready.wait_for("new_message", "echo: still there?", 30)
            opened = await starting.wait_for("chat_settings", limit_s=60)
            # the answer came while the other chat's build was still blocked, not after it
            assert answered < opened
            assert answered - built_from < SLOW_S - 1, answered - built_from
            assert opened - built_from >= SLOW_S - 0.5  # that build did block as long
        finally:
            await ready.client.disconnect()
            await starting.client.disconnect()

    asyncio.run(scenario())
