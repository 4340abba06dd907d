"""The memory interface: session events (short-term) and user preferences (long-term)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, Protocol, get_args

from pydantic import BaseModel, Field

from core.errors import ValidationError

PreferenceKind = Literal["genres", "artists", "city", "state", "budget"]
PREFERENCE_KINDS: tuple[str, ...] = get_args(PreferenceKind)
LIST_KINDS = ("genres", "artists")


class Preferences(BaseModel):
    """What a user told us they like; the planner reads it from the USER_PREFERENCES line."""

    genres: list[str] = Field(default_factory=list)
    artists: list[str] = Field(default_factory=list)
    city: str | None = None
    state: str | None = None
    budget: float | None = None

    def is_empty(self) -> bool:
        return not (self.genres or self.artists or self.city or self.state or self.budget)

    def compact(self) -> dict[str, Any]:
        """Only the kinds that are set (what the system prompt and `recall_memory` show)."""
        return {k: v for k, v in self.model_dump().items() if v not in (None, [], "")}


Role = Literal["user", "assistant", "tool"]
"""Who wrote an event: the user, the agent's answer, or (JSON) the tool calls behind an answer."""


class MemoryEvent(BaseModel):
    """One message of a session."""

    session: str
    role: Role
    text: str
    at: dt.datetime


def check_kind(kind: str) -> PreferenceKind:
    """`kind` as a PreferenceKind, or a ValidationError listing the kinds there are."""
    if kind not in PREFERENCE_KINDS:
        raise ValidationError(
            f"unknown preference kind {kind!r}; use one of {', '.join(PREFERENCE_KINDS)}",
            kind=kind,
        )
    return kind  # type: ignore[return-value]


def merge(prefs: Preferences, kind: PreferenceKind, value: Any) -> Preferences:
    """`prefs` with `value` added (genres, artists) or set (city, state, budget)."""
    data = prefs.model_dump()
    if kind in LIST_KINDS:
        values = value if isinstance(value, list) else [value]
        current: list[str] = data[kind]
        known = {v.lower() for v in current}
        for item in values:
            text = str(item).strip()
            if text and text.lower() not in known:
                current.append(text)
                known.add(text.lower())
    elif kind == "budget":
        try:
            data["budget"] = float(str(value).strip().lstrip("$").replace(",", ""))
        except ValueError as exc:
            raise ValidationError(f"a budget is a number of dollars; got {value!r}") from exc
    else:
        data[kind] = str(value).strip() or None
    return Preferences.model_validate(data)


class Memory(Protocol):
    """Per-user memory. Every call names the user: one user never reads another's data."""

    def add_event(self, user: str, session: str, role: Role, text: str) -> None:
        """Append a message to the user's session."""

    def events(self, user: str, session: str, limit: int = 20) -> list[MemoryEvent]:
        """The last `limit` messages of the user's session, oldest first."""

    def preferences(self, user: str) -> Preferences:
        """The user's long-term preferences (empty when none)."""

    def set_preference(self, user: str, kind: PreferenceKind, value: Any) -> Preferences:
        """Add to (genres, artists) or set (city, state, budget) a preference; the new whole."""

    def forget(self, user: str, kind: PreferenceKind | None = None) -> Preferences:
        """Forget one kind of preference, or all preferences and events of the user."""

    def purge(self, now: dt.datetime | None = None) -> int:
        """Apply retention (age and count limits); the number of events removed."""
