"""What every tool call carries: settings, who is asking, and in which role."""

from __future__ import annotations

from dataclasses import dataclass

from core.settings import Settings

CALL_USER_META = "encore/user"
"""The request `_meta` key naming a call's user, for a server started with `per_call_user`."""


@dataclass(frozen=True)
class ToolContext:
    """The caller of a tool: its settings, user id and governance role (see the policy file)."""

    settings: Settings
    user: str = "local"
    role: str = "analyst"
    per_call_user: bool = False
    """An MCP server's client names the user of each call (request `_meta` "encore/user"); set
    only for the agent's own stdio subprocesses, whose one client is the agent. The role stays
    the server's."""
