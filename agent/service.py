"""`AgentService`: the one API the CLI, the AgentCore runtime and the Chainlit UI talk to.

    service = AgentService.create(settings, user="ana", session="s1")
    async for event in service.stream("best venues in Texas"):  # TextDelta, ToolStarted, ...
        ...
    result = await service.ask("chart that")                    # TurnResult
    await service.aclose()

A turn also feeds memory: preferences the user states are remembered before the model runs (so
the planner sees them on the same turn), and both sides of the turn are stored as session events.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Final, Literal

from pydantic import BaseModel, Field
from strands import Agent
from strands.models import Model
from strands.types.content import ContentBlock, Messages

from agent import telemetry
from agent.build import build_agent, mcp_turn, open_memory
from agent.config import AgentSettings
from agent.memory.base import Memory, PreferenceKind, check_kind
from agent.memory.extract import extract_preferences
from agent.prompt import system_prompt
from core.settings import Settings
from tools.results import Table

log = logging.getLogger(__name__)


class ToolCallRecord(BaseModel):
    """One tool call of a turn, with its parsed output."""

    name: str
    input: dict[str, Any] = Field(default_factory=dict)
    output: Any = None
    duration_ms: float = 0.0
    error: str | None = None


class TurnResult(BaseModel):
    """Everything a turn produced: the answer, the tool calls and what they returned."""

    answer: str
    tool_calls: list[ToolCallRecord] = Field(default_factory=list)
    sql: list[str] = Field(default_factory=list)
    tables: list[Table] = Field(default_factory=list)
    charts: list[dict[str, Any]] = Field(default_factory=list)
    latency_ms: float
    session: str


class TextDelta(BaseModel):
    type: Literal["text"] = "text"
    text: str


class ToolStarted(BaseModel):
    type: Literal["tool_started"] = "tool_started"
    tool_use_id: str
    name: str
    input: dict[str, Any] = Field(default_factory=dict)


class ToolFinished(BaseModel):
    type: Literal["tool_finished"] = "tool_finished"
    tool_use_id: str
    name: str
    output: Any = None
    duration_ms: float = 0.0
    error: str | None = None


class TurnDone(BaseModel):
    type: Literal["done"] = "done"
    result: TurnResult


TurnEvent = TextDelta | ToolStarted | ToolFinished | TurnDone


def parse_tool_output(content: list[dict[str, Any]]) -> Any:
    """A tool result's content as data: JSON text parsed, several blocks as a list."""
    values: list[Any] = []
    for block in content:
        if "json" in block:
            values.append(block["json"])
        elif "text" in block:
            try:
                values.append(json.loads(block["text"]))
            except ValueError:
                values.append(block["text"])
    return values[0] if len(values) == 1 else values or None


def _as_table(value: Any) -> Table | None:
    if isinstance(value, dict) and isinstance(value.get("columns"), list) and "rows" in value:
        return Table(columns=value["columns"], rows=value["rows"])
    return None


def _collect(output: Any, result: TurnResult) -> None:
    """Add the SQL, tables and charts in one tool output to the turn's result."""
    if not isinstance(output, dict):
        return
    if isinstance(output.get("sql"), str):
        result.sql.append(output["sql"])
    if (table := _as_table(output) or _as_table(output.get("table"))) is not None:
        result.tables.append(table)
    result.tables.extend(t for t in map(_as_table, output.get("tables") or []) if t)
    if isinstance(output.get("plotly"), dict):
        result.charts.append(output)
    result.charts.extend(c for c in output.get("charts") or [] if isinstance(c, dict))


def history_messages(memory: Memory, user: str, session: str, turns: int) -> Messages:
    """The last `turns` turns of a session, as Strands messages: each question, the tool calls
    behind its answer (what follow-ups such as "what about next month?" refer to), the answer."""
    messages: Messages = []
    for event in memory.events(user, session, limit=3 * turns) if turns else []:
        last = messages[-1]["role"] if messages else "assistant"
        if event.role == "user" and last == "assistant":
            messages.append({"role": "user", "content": [{"text": event.text}]})
        elif event.role == "tool" and last == "user" and "text" in messages[-1]["content"][0]:
            messages += _tool_exchange(event.text)
        elif event.role == "assistant" and last == "user":
            messages.append({"role": "assistant", "content": [{"text": event.text}]})
    while messages and messages[-1]["role"] == "user":
        messages.pop()  # a turn that never got its answer (its question, its tool results)
    return messages


_STORED_OUTPUT_LIMIT: Final = 100_000
"""Characters of one tool output kept in a session's history; a larger one (a chart's figure)
is stored without its output."""


def _stored_calls(calls: list[ToolCallRecord]) -> str:
    """A turn's tool calls as the JSON text of its `tool` memory event.

    Each output is serialised once: the text measured against the limit is the text stored
    (an output can be a table of thousands of rows)."""
    stored = []
    for call in calls:
        output = json.dumps(call.output, default=str)
        head = json.dumps({"name": call.name, "input": call.input}, default=str)[:-1]
        kept = output if len(output) <= _STORED_OUTPUT_LIMIT else "null"
        stored.append(f'{head}, "output": {kept}, "error": {json.dumps(call.error)}}}')
    return f"[{', '.join(stored)}]"


def _tool_exchange(text: str) -> Messages:
    """The assistant's tool uses and their results, from a `tool` memory event."""
    try:
        calls = json.loads(text)
    except json.JSONDecodeError:
        return []
    uses: list[ContentBlock] = []
    results: list[ContentBlock] = []
    for call in calls if isinstance(calls, list) else []:
        use_id = f"history-{uuid.uuid4().hex[:12]}"
        uses.append(
            {
                "toolUse": {
                    "toolUseId": use_id,
                    "name": call["name"],
                    "input": call.get("input") or {},
                }
            }
        )
        output = call.get("error") or call.get("output")
        shown = output if isinstance(output, str) else json.dumps(output, default=str)
        results.append(
            {
                "toolResult": {
                    "toolUseId": use_id,
                    "status": "error" if call.get("error") else "success",
                    "content": [{"text": shown}],
                }
            }
        )
    if not uses:
        return []
    return [{"role": "assistant", "content": uses}, {"role": "user", "content": results}]


def _last_text(messages: Messages) -> str:
    """The text of the last assistant message (providers that do not stream text deltas)."""
    for message in reversed(messages):
        if message["role"] == "assistant":
            return "".join(b.get("text", "") for b in message["content"]).strip()
    return ""


class AgentService:
    """A conversation of one user in one session, over a Strands agent with MCP tools."""

    def __init__(self, agent: Agent, memory: Memory, *, user: str, session: str, role: str) -> None:
        self.agent = agent
        self.memory = memory
        self.user = user
        self.session = session
        self.role = role

    @classmethod
    def create(
        cls,
        settings: Settings,
        *,
        user: str = "local",
        session: str | None = None,
        role: str = "analyst",
        model: str | Model | None = None,
        memory: Memory | None = None,
        agent_settings: AgentSettings | None = None,
    ) -> AgentService:
        """A service for `user`; an existing `session` resumes its last turns from memory."""
        agent_settings = agent_settings or AgentSettings()
        telemetry.configure(agent_settings.traces)
        memory = memory or open_memory(settings, agent_settings)
        history: Messages = []
        if session:
            history = history_messages(memory, user, session, agent_settings.history_turns)
        session = session or uuid.uuid4().hex[:12]
        agent = build_agent(
            settings,
            user=user,
            session=session,
            role=role,
            model=model,
            memory=memory,
            agent_settings=agent_settings,
            history=history,
        )
        return cls(agent, memory, user=user, session=session, role=role)

    def _remember_stated(self, text: str) -> None:
        for kind, value in extract_preferences(text):
            self.memory.set_preference(self.user, kind, value)

    async def stream(self, text: str) -> AsyncIterator[TurnEvent]:
        """Run one turn, yielding text deltas and tool events, then TurnDone with the result."""
        started = time.perf_counter()
        result = TurnResult(answer="", latency_ms=0.0, session=self.session)
        self._remember_stated(text)
        self.agent.system_prompt = system_prompt(self.memory.preferences(self.user), user=self.user)
        self.memory.add_event(self.user, self.session, "user", text)
        pending: dict[str, tuple[str, dict[str, Any], float]] = {}
        answer: list[str] = []
        usage: dict[str, int] = {}
        # the turn holds its MCP server: the pool does not stop it between the turn's tool calls
        with (
            mcp_turn(self.agent),
            telemetry.turn_span(user=self.user, session=self.session, text=text) as span,
        ):
            async for event in self.agent.stream_async(text):
                if "data" in event and isinstance(event["data"], str):
                    answer.append(event["data"])
                    yield TextDelta(text=event["data"])
                elif "message" in event:
                    message = event["message"]
                    for block in message.get("content", []):
                        if "toolUse" in block:
                            use = block["toolUse"]
                            tool_input = use.get("input") or {}
                            if not isinstance(tool_input, dict):
                                tool_input = {"value": tool_input}
                            pending[use["toolUseId"]] = (
                                use["name"],
                                tool_input,
                                time.perf_counter(),
                            )
                            yield ToolStarted(
                                tool_use_id=use["toolUseId"], name=use["name"], input=tool_input
                            )
                        elif "toolResult" in block:
                            yield self._finish(block["toolResult"], pending, result)
                    if message.get("role") == "assistant" and any(
                        "toolUse" in b for b in message.get("content", [])
                    ):
                        answer.clear()  # text before a tool call is thinking aloud, not the answer
                elif "result" in event:
                    metrics = getattr(event["result"], "metrics", None)
                    usage = dict(getattr(metrics, "accumulated_usage", {}) or {})
            result.answer = "".join(answer).strip() or _last_text(self.agent.messages)
            result.latency_ms = round((time.perf_counter() - started) * 1000, 1)
            telemetry.record_turn(span, result.latency_ms, usage, len(result.tool_calls))
        if result.tool_calls:  # kept so that a resumed session's follow-ups know what they follow
            self.memory.add_event(self.user, self.session, "tool", _stored_calls(result.tool_calls))
        self.memory.add_event(self.user, self.session, "assistant", result.answer)
        yield TurnDone(result=result)

    def _finish(
        self,
        tool_result: dict[str, Any],
        pending: dict[str, tuple[str, dict[str, Any], float]],
        result: TurnResult,
    ) -> ToolFinished:
        use_id = tool_result.get("toolUseId", "")
        name, tool_input, t0 = pending.pop(use_id, ("unknown", {}, time.perf_counter()))
        output = parse_tool_output(tool_result.get("content", []))
        error = None
        if tool_result.get("status") == "error":
            error = output if isinstance(output, str) else json.dumps(output, default=str)
        elif isinstance(output, dict) and isinstance(output.get("error"), str):
            error = output["error"]
        duration = round((time.perf_counter() - t0) * 1000, 1)
        result.tool_calls.append(
            ToolCallRecord(
                name=name, input=tool_input, output=output, duration_ms=duration, error=error
            )
        )
        if error is None:
            _collect(output, result)
        return ToolFinished(
            tool_use_id=use_id, name=name, output=output, duration_ms=duration, error=error
        )

    async def ask(self, text: str) -> TurnResult:
        """Run one turn and return its result."""
        async for event in self.stream(text):
            if isinstance(event, TurnDone):
                return event.result
        raise RuntimeError("the turn ended without a result")  # stream always ends with TurnDone

    def preferences(self) -> dict[str, Any]:
        """The user's remembered preferences (only the kinds that are set)."""
        return self.memory.preferences(self.user).compact()

    def set_preference(self, kind: str, value: Any) -> None:
        """Remember a preference (genres/artists add; city/state/budget replace)."""
        checked: PreferenceKind = check_kind(kind)
        self.memory.set_preference(self.user, checked, value)

    def forget(self, kind: str | None = None) -> None:
        """Forget one kind of preference, or everything about the user."""
        self.memory.forget(self.user, check_kind(kind) if kind else None)

    async def aclose(self) -> None:
        """Release the agent; the shared MCP client stays up for the next session."""
        self.agent.cleanup()
