"""The offline planner as a Strands model: classify, extract, plan, call tools, compose."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import AsyncGenerator, AsyncIterable, Callable
from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel
from strands.models.model import Model
from strands.types.content import Messages
from strands.types.streaming import StreamEvent
from strands.types.tools import ToolSpec

from agent.planner.composer import compose
from agent.planner.entities import Entities, Gazetteer
from agent.planner.intents import classify
from agent.planner.routes import build_plan
from agent.planner.state import Call, DialogueState, Turn, recover_turns

logger = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)
_YES = re.compile(r"^\W*(yes|yeah|yep|sure|ok(ay)?|confirm(ed)?|go ahead|do it|please do)\b", re.I)
_NO = re.compile(r"^\W*(no|nope|cancel|don'?t|do not|stop)\b", re.I)


def _held_back(turn: Turn) -> Call | None:
    """The write the previous turn's last call held back for confirmation (DESIGN 6), if any."""
    last = turn.calls[-1] if turn.calls else None
    if last is not None and isinstance(last.result, dict):
        return last if last.result.get("status") == "needs_confirmation" else None
    return None


def _yes_or_no(text: str) -> bool | None:
    """True for a confirmation, False for a refusal, None for anything else (a new question)."""
    if _YES.match(text):
        return True
    return False if _NO.match(text) else None


def _answer_held_back(
    pending: Call, confirmed: bool, done: list[Call]
) -> tuple[dict[str, Any] | None, str]:
    """Carry out the held-back write with confirm=true once the user said yes; else say that
    nothing changed. The write tool still checks the caller's role."""
    if not confirmed:
        return None, "Cancelled: nothing was changed."
    if not done:
        return {"name": pending.name, "input": {**pending.input, "confirm": True}}, ""
    return None, "Done. " + compose("confirmed_write", done, [], None)


_PREFS = re.compile(r"^USER_PREFERENCES:\s*(\{.*\})\s*$", re.M)


def preferences_from(system_prompt: str | None) -> dict[str, Any]:
    """The remembered preferences line of the system prompt (contracts: USER_PREFERENCES: {...})."""
    found = _PREFS.search(system_prompt or "")
    if not found:
        return {}
    try:
        value = json.loads(found.group(1))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class OfflinePlanner(Model):
    """A model that needs no LLM: every answer comes from a plan of tool calls."""

    def __init__(
        self,
        *,
        vocabulary: Callable[[str], list[str]] | None = None,
        today: date | None = None,
    ) -> None:
        self.config: dict[str, Any] = {"model_id": "offline-planner"}
        self._gazetteer = Gazetteer(vocabulary)
        self._today = today

    def update_config(self, **model_config: Any) -> None:
        self.config.update(model_config)

    def get_config(self) -> dict[str, Any]:
        return dict(self.config)

    def respond(
        self, messages: Messages, tool_specs: list[ToolSpec] | None, system_prompt: str | None
    ) -> tuple[dict[str, Any] | None, str]:
        """The next tool call (name, input) or None with the final answer text."""
        today = self._today or date.today()
        turns = recover_turns(messages)
        if not turns:
            return None, compose("greeting", [], [], None)
        current = turns[-1]
        pending = _held_back(turns[-2]) if len(turns) > 1 else None
        if pending is not None and (reply := _yes_or_no(current.text)) is not None:
            return _answer_held_back(pending, reply, current.calls)
        state = DialogueState.from_turns(turns[:-1])
        ents = self._gazetteer.extract(current.text, today)
        intent, _margin = classify(_names_as_one(current.text, ents))
        # what was said earlier in this conversation counts even before memory reaches the prompt
        prefs = preferences_from(system_prompt)
        for kind, value in state.remembered.items():
            if isinstance(value, list):
                prefs[kind] = list(dict.fromkeys([*prefs.get(kind, []), *value]))
            else:
                prefs.setdefault(kind, value)
        plan = build_plan(intent, current.text, ents, state, prefs, today)
        available = {spec["name"] for spec in tool_specs or []}
        done = list(current.calls)
        call = plan.next_call(done)
        while call is not None and call.name not in available:
            plan.notes.append(
                f"(The {call.name.replace('_', ' ')} tool isn't available here, so I skipped it.)"
            )
            plan.steps = [s for s in plan.steps if (c := s(done)) is None or c.name != call.name]
            call = plan.next_call(done)
        if call is not None:
            return {"name": call.name, "input": call.input}, ""
        for finished in done:
            state.absorb(finished)
        return None, compose(
            plan.intent, done, plan.notes, plan.subject or state.artist, plan.caveats
        )

    async def stream(
        self,
        messages: Messages,
        tool_specs: list[ToolSpec] | None = None,
        system_prompt: str | None = None,
        **kwargs: Any,
    ) -> AsyncIterable[StreamEvent]:
        """One assistant message: a tool call (stopReason tool_use) or the answer (end_turn)."""
        call, text = self.respond(messages, tool_specs, system_prompt)
        yield {"messageStart": {"role": "assistant"}}
        if call is not None:
            use = {"name": call["name"], "toolUseId": f"tooluse_{uuid.uuid4().hex[:24]}"}
            yield {"contentBlockStart": {"start": {"toolUse": use}}}  # type: ignore[typeddict-item]
            yield {
                "contentBlockDelta": {
                    "delta": {"toolUse": {"input": json.dumps(call["input"], default=str)}}
                }
            }
            yield {"contentBlockStop": {}}
            yield {"messageStop": {"stopReason": "tool_use"}}
        else:
            yield {"contentBlockStart": {"start": {}}}
            yield {"contentBlockDelta": {"delta": {"text": text}}}
            yield {"contentBlockStop": {}}
            yield {"messageStop": {"stopReason": "end_turn"}}
        tokens = sum(len(str(m.get("content", ""))) for m in messages) // 4
        yield {
            "metadata": {
                "usage": {
                    "inputTokens": tokens,
                    "outputTokens": len(text) // 4,
                    "totalTokens": tokens + len(text) // 4,
                },
                "metrics": {"latencyMs": 0},
            }
        }

    async def structured_output(
        self,
        output_model: type[T],
        prompt: Messages,
        system_prompt: str | None = None,
        **kwargs: Any,
    ) -> AsyncGenerator[dict[str, T | Any], None]:
        """Fill `output_model` from the entities of the last message where fields match by name."""
        turns = recover_turns(prompt)
        text = turns[-1].text if turns else ""
        ents = self._gazetteer.extract(text, self._today or date.today())
        intent, _ = classify(text)
        values: dict[str, Any] = {"text": text, "intent": intent, "answer": text}
        for key, value in ents.__dict__.items():
            values[key] = value
            if isinstance(value, list):
                values[key.rstrip("s")] = value[0] if value else None
        fields = output_model.model_fields
        data = {k: v for k, v in values.items() if k in fields}
        yield {"output": output_model.model_validate(data)}


def _names_as_one(text: str, ents: Entities) -> str:
    """The message as the intent classifier reads it: " and " inside a known name ("The Choir
    and the Heroes") as "&", so that it reads as one name, not as a follow-up ("and in Texas?")
    or two things compared ("Compare X and Y" keeps its own "and")."""
    for name in [*ents.artists, *ents.venues]:
        if re.search(r"\band\b", name, re.I):
            joined = re.sub(r"\s+and\s+", " & ", name, flags=re.I)
            as_typed = rf"(?<!\w){re.escape(name)}(?!\w)"
            text = re.sub(as_typed, joined.replace("\\", "\\\\"), text, flags=re.I)
    return text
