"""The AgentCore runtime entrypoint: `POST /invocations`, `GET /ping` (BedrockAgentCoreApp).

    POST /invocations {"prompt": "...", "user"?: "ana", "stream"?: true}
      -> the TurnResult JSON, or (stream) SSE events: text, tool_started, tool_finished, done

The runtime's session header (X-Amzn-Bedrock-AgentCore-Runtime-Session-Id, `context.session_id`)
selects the conversation and its memory session; one AgentService is kept per (user, session).
Run locally with `encore serve agentcore --port 8080` or `python -m agent.runtime`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import Any

from bedrock_agentcore.runtime import BedrockAgentCoreApp, PingStatus, RequestContext
from strands.models import Model

from agent.config import AgentSettings
from agent.service import AgentService
from core.errors import EncoreError
from core.settings import Settings

log = logging.getLogger(__name__)
MAX_SESSIONS = 256


class Runtime:
    """The app and the sessions it serves."""

    def __init__(
        self,
        settings: Settings,
        agent_settings: AgentSettings,
        model_factory: Callable[[], Model] | None = None,
    ) -> None:
        self.settings = settings
        self.model_factory = model_factory
        self.agent_settings = agent_settings
        self.sessions: OrderedDict[tuple[str, str], AgentService] = OrderedDict()
        self.locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._sessions_lock = threading.Lock()  # services are made on worker threads
        self.turns = 0  # running now: /ping says HealthyBusy while any runs
        self.app = BedrockAgentCoreApp()
        self.app.entrypoint(self.invoke)
        self.app.ping(self.ping)

    def ping(self) -> PingStatus:
        return PingStatus.HEALTHY_BUSY if self.turns else PingStatus.HEALTHY

    def _service(self, user: str, session: str | None) -> AgentService:
        key = (user, session or "")
        with self._sessions_lock:
            if session and key in self.sessions:
                self.sessions.move_to_end(key)
                return self.sessions[key]
        service = AgentService.create(
            self.settings,
            user=user,
            session=session,
            role=self.agent_settings.role,
            model=self.model_factory() if self.model_factory else None,
            agent_settings=self.agent_settings,
        )
        if not session:
            return service
        done: list[AgentService] = []
        with self._sessions_lock:
            kept = self.sessions.setdefault(key, service)  # a racing twin's, if it came first
            if len(self.sessions) > MAX_SESSIONS:  # the least recently used conversation goes
                done.append(self.sessions.popitem(last=False)[1])
        if kept is not service:
            done.append(service)
        for old in done:
            old.agent.cleanup()
        return kept

    async def invoke(self, payload: dict[str, Any], context: RequestContext) -> Any:
        """Answer `payload["prompt"]` in the session the runtime header names."""
        prompt = str(payload.get("prompt") or "").strip()
        if not prompt:
            return {"error": 'send {"prompt": "your question"}'}
        user = str(payload.get("user") or self.agent_settings.user)
        self.turns += 1
        try:
            try:
                # a new user's MCP server takes seconds to start: off the loop all sessions share
                service = await asyncio.to_thread(self._service, user, context.session_id)
            except EncoreError as exc:
                return {"error": str(exc)}
            lock = self.locks.setdefault((user, service.session), asyncio.Lock())
            if payload.get("stream"):
                return self._stream(service, prompt, lock)
            async with lock:  # one turn at a time per conversation
                result = await service.ask(prompt)
            return result.model_dump(mode="json")
        finally:
            self.turns -= 1

    async def _stream(
        self, service: AgentService, prompt: str, lock: asyncio.Lock
    ) -> AsyncIterator[dict[str, Any]]:
        # counted from the first event asked for: a stream nobody reads never runs its finally,
        # and would leave /ping busy for good
        self.turns += 1
        try:
            async with lock:
                async for event in service.stream(prompt):
                    yield event.model_dump(mode="json")
        finally:
            self.turns -= 1


def create_app(
    settings: Settings | None = None,
    agent_settings: AgentSettings | None = None,
    model_factory: Callable[[], Model] | None = None,
) -> BedrockAgentCoreApp:
    """The BedrockAgentCoreApp serving Encore's agent (`model_factory`: a model per session)."""
    runtime = Runtime(settings or Settings(), agent_settings or AgentSettings(), model_factory)
    return runtime.app


def serve(port: int = 8080, host: str = "127.0.0.1") -> None:
    """Serve the runtime (loopback by default; containers pass host=0.0.0.0)."""
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    create_app().run(port=port, host=host)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    serve(int(os.environ.get("PORT", "8080")), os.environ.get("HOST", "127.0.0.1"))
