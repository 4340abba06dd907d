"""What every tool call carries: settings, who is asking, and in which role."""

from __future__ import annotations

from dataclasses import dataclass

from core.settings import Settings


@dataclass(frozen=True)
class ToolContext:
    """The caller of a tool: its settings, user id and governance role (see the policy file)."""

    settings: Settings
    user: str = "local"
    role: str = "analyst"
