"""AgentCore Memory behind the `Memory` interface (`ENCORE_MEMORY=agentcore`, `ENCORE_MEMORY_ID`).

Turns are AgentCore events (actor = user, session = session). Preferences are kept as the latest
event of a reserved session per user, so one user's preferences sit under that user's actor id
only. The client builds offline; the first call reaches AWS, and AWS failures arrive here as
`ConfigError`s that say what to set. Retention is the Memory resource's own event expiry
(`eventExpiryDuration`, see agentcore.yaml), so `purge` has nothing to do locally.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any, TypeVar

from agent.memory.base import (
    MemoryEvent,
    PreferenceKind,
    Preferences,
    Role,
    check_kind,
    merge,
)
from core.errors import ConfigError

PREFERENCES_SESSION = "encore-preferences"
_PREFIX = "ENCORE_PREFERENCES "
T = TypeVar("T")


class AgentCoreMemory:
    """Memory in an AgentCore Memory resource."""

    def __init__(self, memory_id: str | None, *, region: str = "us-east-1") -> None:
        if not memory_id:
            raise ConfigError("AgentCore memory needs a memory id: set ENCORE_MEMORY_ID")
        try:
            from bedrock_agentcore.memory import MemoryClient
        except ImportError as exc:  # pragma: no cover - installed with the agent extra
            raise ConfigError(
                "AgentCore memory needs bedrock-agentcore: pip install 'encore[agent]'"
            ) from exc
        self.memory_id = memory_id
        self.client = MemoryClient(region_name=region)

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn()
        except (BotoCoreError, ClientError) as exc:
            raise ConfigError(
                f"AgentCore Memory {self.memory_id} could not {what}: {exc}. Check AWS "
                "credentials, region and ENCORE_MEMORY_ID, or use ENCORE_MEMORY=local",
                memory_id=self.memory_id,
            ) from exc

    def add_event(self, user: str, session: str, role: Role, text: str) -> None:
        self._call(
            "store an event",
            lambda: self.client.create_event(
                memory_id=self.memory_id,
                actor_id=user,
                session_id=session,
                messages=[(text, role.upper())],
            ),
        )

    def _raw_events(self, user: str, session: str, limit: int) -> list[dict[str, Any]]:
        return self._call(
            "list events",
            lambda: self.client.list_events(
                memory_id=self.memory_id, actor_id=user, session_id=session, max_results=limit
            ),
        )

    def events(self, user: str, session: str, limit: int = 20) -> list[MemoryEvent]:
        out: list[MemoryEvent] = []
        for event in self._raw_events(user, session, limit):
            at = event.get("eventTimestamp") or dt.datetime.now(dt.UTC)
            for item in event.get("payload", []):
                conv = item.get("conversational") or {}
                role = str(conv.get("role", "")).lower()
                if role in ("user", "assistant", "tool"):
                    text = conv.get("content", {}).get("text", "")
                    out.append(MemoryEvent(session=session, role=role, text=text, at=at))
        out.sort(key=lambda e: e.at)
        return out[-limit:]

    def preferences(self, user: str) -> Preferences:
        for event in reversed(self.events(user, PREFERENCES_SESSION, 100)):
            if event.text.startswith(_PREFIX):
                return Preferences.model_validate(json.loads(event.text[len(_PREFIX) :]))
        return Preferences()

    def _store(self, user: str, prefs: Preferences) -> Preferences:
        self.add_event(user, PREFERENCES_SESSION, "assistant", _PREFIX + prefs.model_dump_json())
        return prefs

    def set_preference(self, user: str, kind: PreferenceKind, value: Any) -> Preferences:
        return self._store(user, merge(self.preferences(user), check_kind(kind), value))

    def forget(self, user: str, kind: PreferenceKind | None = None) -> Preferences:
        if kind is None:
            return self._store(user, Preferences())
        data = self.preferences(user).model_dump()
        data.pop(check_kind(kind), None)
        return self._store(user, Preferences.model_validate(data))

    def purge(self, now: dt.datetime | None = None) -> int:
        return 0
