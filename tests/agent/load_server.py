"""The AgentCore runtime for the load test: the real app and MCP servers, a scripted model that
makes each answer depend on its own question.

`python -m tests.agent.load_server PORT`. "sales in <STATE> #<n>" makes the model call
semantic_query for tickets by state filtered on STATE, then answer "answer to #<n>", so an
answer or a table that went to the wrong session shows.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from agent.runtime import create_app
from core.settings import Settings
from tests.agent.conftest import agent_settings
from tests.agent.scripted import ScriptedModel, Step

QUESTION = re.compile(r"sales in (?P<state>\S+) #(?P<n>\d+)")


def _question(messages: list[dict[str, Any]]) -> re.Match[str]:
    for message in reversed(messages):
        for block in message["content"]:
            if message["role"] == "user" and (found := QUESTION.search(block.get("text", ""))):
                return found
    raise ValueError("no question in the conversation")


def plan(messages: list[dict[str, Any]], system_prompt: str | None) -> Step:
    question = _question(messages)
    last = messages[-1]["content"]
    if any("toolResult" in block for block in last):
        return f"answer to #{question['n']}"
    return (
        "semantic_query",
        {
            "measures": ["tickets_sold"],
            "dimensions": ["state"],
            "filters": [{"field": "state", "op": "=", "value": question["state"]}],
        },
    )


if __name__ == "__main__":
    app = create_app(Settings(), agent_settings(), lambda: ScriptedModel(plan=plan))
    app.run(port=int(sys.argv[1]), host="127.0.0.1")
