"""The agent-side memory tools (Strands @tool functions, not MCP), bound to one user's memory."""

from __future__ import annotations

import json
from typing import Any

from strands import tool
from strands.types.tools import AgentTool

from agent.memory.base import PREFERENCE_KINDS, Memory, check_kind


def memory_tools(memory: Memory, user: str) -> list[AgentTool]:
    """recall_memory, remember_preference and forget_memory for `user`."""

    @tool
    def recall_memory() -> dict[str, Any]:
        """What I remember about the user: their preferences (genres, artists, city, state,
        budget). Use it for "what do you remember about me?"."""
        prefs = memory.preferences(user)
        return {"user": user, "preferences": prefs.compact(), "empty": prefs.is_empty()}

    @tool
    def remember_preference(kind: str, value: str) -> dict[str, Any]:
        """Remember something the user said about themselves, for later sessions too.

        Args:
            kind: one of genres, artists, city, state, budget.
            value: the genre(s) or artist(s) (comma-separated), the city, the two-letter state,
                or the budget in dollars per ticket.
        """
        checked = check_kind(kind)
        parsed: Any = value
        if checked in ("genres", "artists"):
            parsed = [v.strip() for v in value.split(",") if v.strip()]
        prefs = memory.set_preference(user, checked, parsed)
        return {"remembered": {kind: value}, "preferences": prefs.compact()}

    @tool
    def forget_memory(what: str | None = None) -> dict[str, Any]:
        """Forget what I remember about the user: one kind (genres, artists, city, state, budget)
        or, with no argument, everything (preferences and conversation history).

        Args:
            what: the kind to forget; omit to forget everything.
        """
        if what is not None and what not in PREFERENCE_KINDS:
            return {"error": f"nothing called {what!r}; say one of {json.dumps(PREFERENCE_KINDS)}"}
        prefs = memory.forget(user, check_kind(what) if what else None)
        return {"forgotten": what or "everything", "preferences": prefs.compact()}

    return [recall_memory, remember_preference, forget_memory]
