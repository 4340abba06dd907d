"""The AgentCore runtime for tests: the real app and MCP servers, a scripted model per session.

`python -m tests.agent.runtime_server PORT`. The model answers "turns=N" (the user messages it
sees), or for a question about sales calls semantic_query first.
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
    text = last[0].get("text", "")
    if "sales" in text:
        return ("semantic_query", {"measures": ["tickets_sold"], "dimensions": ["genre"]})
    users = [m for m in messages if any("text" in b for b in m["content"]) and m["role"] == "user"]
    return f"turns={len(users)}"


if __name__ == "__main__":
    app = create_app(Settings(), agent_settings(), lambda: ScriptedModel(plan=plan))
    app.run(port=int(sys.argv[1]), host="127.0.0.1")
