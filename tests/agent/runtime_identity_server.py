"""The AgentCore runtime for identity tests: the real app and MCP servers, a scripted model that
says whom the system prompt is for and what it remembers about them.

`python -m tests.agent.runtime_identity_server PORT`. "remember" -> "USER: x | USER_PREFERENCES:
{...}" (the prompt's own lines); a question about sales calls semantic_query first (audited).
"""

from __future__ import annotations

import sys
from typing import Any

from agent.runtime import create_app
from core.settings import Settings
from tests.agent.conftest import agent_settings
from tests.agent.scripted import ScriptedModel, Step


def plan(messages: list[dict[str, Any]], system_prompt: str | None) -> Step:
    last = messages[-1]["content"]
    if any("toolResult" in block for block in last):
        return "Sales are in."
    if "sales" in last[0].get("text", ""):
        return ("semantic_query", {"measures": ["tickets_sold"], "dimensions": ["genre"]})
    lines = (system_prompt or "").splitlines()
    return " | ".join(line for line in lines if line.startswith(("USER:", "USER_PREFERENCES:")))


if __name__ == "__main__":
    app = create_app(Settings(), agent_settings(), lambda: ScriptedModel(plan=plan))
    app.run(port=int(sys.argv[1]), host="127.0.0.1")
