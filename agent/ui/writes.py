"""Write tools asked for in chat: what they would do, how to confirm them, what they did.

A write tool (ingest_file, start_pipeline_run, refresh_source) called without `confirm=true`
changes nothing and answers `{"status": "needs_confirmation", "message": ...}` (DESIGN 6). The
chat UI shows that message with Confirm/Cancel buttons and, on Confirm, calls the same tool again
with the same arguments and `confirm=true` through the agent's own MCP client (so as the chat's
user and role); the terminal names the `encore` command that does it. No chainlit import here:
the CLI uses this module too.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import Any

from core.errors import ConfigError, EncoreError
from tools.results import held_back_action


@dataclass(frozen=True)
class PendingWrite:
    """A write the agent asked for and the tool held back until the user confirms."""

    tool: str
    arguments: dict[str, Any] = field(default_factory=dict)
    message: str = ""

    def what(self) -> str:
        """What the write would do, in the tool's words without its note to the model."""
        return held_back_action(self.message) or f"Run {self.tool}"

    def confirmed_arguments(self) -> dict[str, Any]:
        """The same arguments, confirmed."""
        return {**self.arguments, "confirm": True}


def pending_write(tool_calls: list[Any]) -> PendingWrite | None:
    """The last tool call of a turn that is waiting for confirmation, if any."""
    for call in reversed(tool_calls):
        output = getattr(call, "output", None)
        if isinstance(output, dict) and is_pending(output):
            arguments = dict(getattr(call, "input", None) or {})
            arguments.pop("confirm", None)
            return PendingWrite(str(call.name), arguments, str(output.get("message") or ""))
    return None


def is_pending(output: Any) -> bool:
    """Whether a tool output says nothing was written yet because it needs confirmation."""
    return isinstance(output, dict) and output.get("status") == "needs_confirmation"


def describe(pending: PendingWrite) -> str:
    """The question put to the user (markdown)."""
    return (
        f"This changes data: **{pending.what()}**.\n\n"
        "Nothing has changed yet. Confirm to go ahead, or cancel."
    )


def command(pending: PendingWrite) -> str | None:
    """The `encore` command that does the same write from a terminal."""
    args = pending.arguments
    if pending.tool == "start_pipeline_run":
        return "encore pipeline run"
    if pending.tool == "refresh_source":
        # no command refreshes one API alone: the run refreshes every API that has its key set
        return "encore pipeline run"
    if pending.tool == "ingest_file" and args.get("path"):
        parts = ["encore", "ingest", str(args["path"])]
        if args.get("entity"):
            parts += ["--entity", str(args["entity"])]
        if args.get("source"):
            parts += ["--source", str(args["source"])]
        return shlex.join(parts)
    return None


def terminal_text(pending: PendingWrite) -> str:
    """What `encore ask` prints instead of the tool's raw answer (markdown)."""
    text = f"This changes data: **{pending.what()}**. Nothing has changed yet."
    how = command(pending)
    if how:
        text += f"\n\nTo do it, run:\n\n```\n{how}\n```"
    else:
        text += "\n\nAsk in the chat UI (`encore ui`), which asks you to confirm it."
    return text


def call_write(service: Any, pending: PendingWrite) -> Any:
    """Call the held-back tool again, confirmed, through the agent's MCP client (blocking: run it
    in a worker thread). Returns the tool's output as data; a tool error raises EncoreError."""
    from agent.build import mcp_turn
    from agent.service import parse_tool_output

    agent = getattr(service, "agent", None)
    if agent is None or pending.tool not in agent.tool_registry.registry:
        raise ConfigError(f"this agent has no {pending.tool} tool to confirm")
    caller = getattr(agent.tool, pending.tool)
    with mcp_turn(agent):  # the pool keeps the client running for the call
        # not recorded in the conversation: the planner reads it, and a confirmation is no turn
        result = caller(record_direct_tool_call=False, **pending.confirmed_arguments())
    output = parse_tool_output(result.get("content", []))
    if result.get("status") == "error":
        text = output if isinstance(output, str) else json.dumps(output, default=str)
        raise EncoreError(text.removeprefix("Error: ").strip() or f"{pending.tool} failed")
    return output


def outcome_text(output: Any) -> str:
    """A write tool's answer after confirmation, as markdown: the status, its message, the files
    it loaded and the steps it ran."""
    if not isinstance(output, dict):
        return str(output)
    status = str(output.get("status") or "done")
    head = {"done": "Done", "failed": "Failed", "skipped": "Skipped"}.get(status, status)
    steps = [s for s in output.get("steps") or [] if isinstance(s, dict)]
    message = "" if steps else str(output.get("message") or "")  # a run's message lists its steps
    lines = [f"**{head}**: {message}" if message else f"**{head}.**"]
    if steps:
        lines += ["", "| step | status | detail |", "|---|---|---|"]
        lines += [
            f"| {s.get('name', '')} | {s.get('status', '')} | {_cell(s.get('detail'))} |"
            for s in steps
        ]
    files = [f for f in output.get("files") or [] if isinstance(f, dict)]
    if files:
        lines += [
            "",
            "| file | entity | status | records | loaded | quarantined |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {f.get('file', '')} | {f.get('entity') or '?'} | {f.get('status', '')} | "
            f"{f.get('records_in', 0):,} | {f.get('accepted', 0):,} | {f.get('quarantined', 0):,} |"
            for f in files
        ]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    return "" if value is None else str(value).replace("|", "/").replace("\n", " ")
