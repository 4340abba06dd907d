"""A scripted Strands model for tests: each call replays the next planned response."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel
from strands.models import Model
from strands.types.content import Messages
from strands.types.streaming import StreamEvent
from strands.types.tools import ToolSpec

T = TypeVar("T", bound=BaseModel)
Step = str | tuple[str, dict[str, Any]] | list[tuple[str, dict[str, Any]]]
"""Text to answer, or one or several (tool name, input) calls."""


class ScriptedModel(Model):
    """Answers each model call with the next step; `plan(messages, system_prompt)` may choose it."""

    def __init__(self, steps: list[Step] | None = None, plan: Callable[..., Step] | None = None):
        self.steps = list(steps or [])
        self.plan = plan
        self.calls: list[dict[str, Any]] = []

    def update_config(self, **model_config: Any) -> None:
        return None

    def get_config(self) -> Any:
        return {}

    def structured_output(
        self, output_model: type[T], prompt: Messages, system_prompt: str | None = None, **kw: Any
    ) -> AsyncGenerator[dict[str, T | Any], None]:
        raise NotImplementedError

    async def stream(  # type: ignore[override]
        self,
        messages: Messages,
        tool_specs: list[ToolSpec] | None = None,
        system_prompt: str | None = None,
        **kwargs: Any,
    ) -> AsyncIterable[StreamEvent]:
        self.calls.append({"messages": messages, "system_prompt": system_prompt,
                           "tools": [t["name"] for t in tool_specs or []]})  # fmt: skip
        step = self.plan(messages, system_prompt) if self.plan else self.steps.pop(0)
        yield {"messageStart": {"role": "assistant"}}
        if isinstance(step, str):
            yield {"contentBlockStart": {"start": {}}}
            for word in step.split(" "):
                yield {"contentBlockDelta": {"delta": {"text": word + " "}}}
            yield {"contentBlockStop": {}}
            yield {"messageStop": {"stopReason": "end_turn"}}
        else:
            calls = step if isinstance(step, list) else [step]
            for i, (name, tool_input) in enumerate(calls):
                use_id = f"t{len(self.calls)}-{i}"
                yield {
                    "contentBlockStart": {"start": {"toolUse": {"name": name, "toolUseId": use_id}}}
                }
                yield {
                    "contentBlockDelta": {"delta": {"toolUse": {"input": json.dumps(tool_input)}}}
                }
                yield {"contentBlockStop": {}}
            yield {"messageStop": {"stopReason": "tool_use"}}
        yield {"metadata": {"usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15},
                            "metrics": {"latencyMs": 1}}}  # fmt: skip
