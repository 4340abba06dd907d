"""A memory wrapper that never breaks a turn: when the store fails, the agent answers without
context (DESIGN §5) and the failure is logged once per call."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from agent.memory.base import Memory, MemoryEvent, PreferenceKind, Preferences, Role
from core.errors import ValidationError

log = logging.getLogger(__name__)
T = TypeVar("T")


class FailSoftMemory:
    """Delegates to `inner`; reads fall back to empty, writes are dropped, when it raises."""

    def __init__(self, inner: Memory) -> None:
        self.inner = inner
        self.failed = False

    def _try(self, what: str, fn: Callable[[], T], fallback: T) -> T:
        try:
            return fn()
        except ValidationError:
            raise  # the caller's mistake (an unknown kind), not the store's
        except Exception as exc:  # memory is optional: any store failure degrades, never crashes
            self.failed = True
            log.warning("memory unavailable (%s): %s; answering without it", what, exc)
            return fallback

    def add_event(self, user: str, session: str, role: Role, text: str) -> None:
        self._try("add_event", lambda: self.inner.add_event(user, session, role, text), None)

    def events(self, user: str, session: str, limit: int = 20) -> list[MemoryEvent]:
        return self._try("events", lambda: self.inner.events(user, session, limit), [])

    def preferences(self, user: str) -> Preferences:
        return self._try("preferences", lambda: self.inner.preferences(user), Preferences())

    def set_preference(self, user: str, kind: PreferenceKind, value: Any) -> Preferences:
        return self._try(
            "set_preference", lambda: self.inner.set_preference(user, kind, value), Preferences()
        )

    def forget(self, user: str, kind: PreferenceKind | None = None) -> Preferences:
        return self._try("forget", lambda: self.inner.forget(user, kind), Preferences())

    def purge(self, now: dt.datetime | None = None) -> int:
        return self._try("purge", lambda: self.inner.purge(now), 0)


class UnavailableMemory:
    """A store that could not be opened (a damaged file, an unreachable service): every call
    raises why, so that `FailSoftMemory` answers without memory instead of the turn failing."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def _fail(self) -> NoReturn:
        raise self.error

    def add_event(self, user: str, session: str, role: Role, text: str) -> None:
        self._fail()

    def events(self, user: str, session: str, limit: int = 20) -> list[MemoryEvent]:
        self._fail()

    def preferences(self, user: str) -> Preferences:
        self._fail()

    def set_preference(self, user: str, kind: PreferenceKind, value: Any) -> Preferences:
        self._fail()

    def forget(self, user: str, kind: PreferenceKind | None = None) -> Preferences:
        self._fail()

    def purge(self, now: dt.datetime | None = None) -> int:
        self._fail()
