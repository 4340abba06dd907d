# Chainlit's send/update/user_session methods carry no annotations.
# mypy: disable-error-code="no-untyped-call"
"""The chat session: build the agent service, stream a turn into messages, steps and elements.

The agent is `agent.service.AgentService` (the same API the CLI uses). `ENCORE_UI_AGENT` names
the factory as `module:callable[.attr]`, a seam that lets browser tests drive a scripted service.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import logging
import re
import shutil
import sqlite3
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Protocol

import chainlit as cl

from core.errors import ConfigError, EncoreError
from core.settings import Settings
from pipelines.ingest import FileOutcome, ingest_files
from tools.charts.build import make_chart
from tools.context import ToolContext

from . import render, writes
from .config import UiSettings, allowed_role, uploads_dir
from .turns import SavedTurn, TurnStore

log = logging.getLogger(__name__)

PREFERENCE_KINDS = ("genres", "artists", "city", "state", "budget")
_UPLOAD_TYPES = (".csv", ".tsv", ".txt", ".json", ".jsonl", ".ndjson", ".xml")
CONFIRM_TIMEOUT_S: Final = 300
"""How long a write waits for its Confirm/Cancel click."""


class Service(Protocol):
    """The part of `AgentService` the UI uses."""

    def stream(self, text: str) -> Any: ...
    def preferences(self) -> dict[str, Any]: ...
    def set_preference(self, kind: str, value: Any) -> None: ...
    def forget(self, kind: str | None = None) -> None: ...
    async def aclose(self) -> None: ...


def _factory(spec: str) -> Any:
    """`package.module:attr.attr`, or `/path/to/file.py:attr` for a file outside any package."""
    module_name, _, attr_path = spec.rpartition(":")
    target: Any
    if module_name.endswith(".py"):
        loaded = importlib.util.spec_from_file_location("encore_ui_agent", module_name)
        if loaded is None or loaded.loader is None:
            raise ConfigError(f"ENCORE_UI_AGENT: cannot load {module_name}")
        target = importlib.util.module_from_spec(loaded)
        sys.modules[loaded.name] = target  # dataclasses look their module up while defining
        loaded.loader.exec_module(target)
    else:
        target = importlib.import_module(module_name)
    for attr in attr_path.split("."):
        target = getattr(target, attr)
    return target


def build_service(
    settings: Settings, ui: UiSettings, *, user: str, session: str, role: str, model: str | None
) -> Service:
    """The agent service for one chat thread (its memory session is the thread id)."""
    factory = _factory(ui.agent)
    service: Service = factory(settings, user=user, session=session, role=role, model=model)
    return service


async def open_service(
    settings: Settings, ui: UiSettings, *, user: str, session: str, role: str, model: str | None
) -> Service:
    """`build_service` in a worker thread: building may start the user's MCP server (seconds,
    more under load), and the event loop serves every other chat of the UI process meanwhile."""
    return await asyncio.to_thread(
        build_service, settings, ui, user=user, session=session, role=role, model=model
    )


def removed_text(name: str) -> str:
    """What a chat says instead of answering once its user has been removed."""
    return (
        f"Your account **{name}** was removed, so this chat has ended and I will not answer here. "
        "Sign in again if an admin adds you back."
    )


def role_after_change(running_as: str, granted_before: str, granted_now: str) -> str:
    """The role a chat answers with once an admin changed its user's role: the new role if the
    chat ran with the old one (the default), else the role picked in settings, within the new."""
    if running_as == granted_before:
        return granted_now
    return allowed_role(running_as, granted_now)


def role_change_text(granted: str, running_as: str) -> str:
    """What a chat says when the user's role changed while it was open."""
    also = "" if running_as == granted else f" (you picked **{running_as}** in settings)"
    return f"An admin changed your role to **{granted}**: I answer as **{running_as}**{also} now."


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True)
class Turns:
    """Where a chat thread's answers keep what their buttons need, and whose thread it is."""

    store: TurnStore
    thread_id: str
    user: str


async def run_turn(service: Service, text: str, turns: Turns) -> None:
    """Stream one agent turn: text tokens, one tool step per call, then tables, charts, actions.

    Markdown tables in the answer are held back while streaming; a table the page shows as a grid
    is left out of the final text (other clients of the agent still get it in the answer).
    """
    message = cl.Message(content="")
    steps: dict[str, cl.Step] = {}
    said = shown = ""
    held = False  # a write waits for confirmation: its raw answer is not shown
    result: Any = None
    try:
        async for event in service.stream(text):
            kind = type(event).__name__
            if kind == "TextDelta":
                said += event.text
                visible = render.streamable(said)
                if not held:
                    await message.stream_token(visible[len(shown) :])
                    shown = visible
            elif kind == "ToolStarted":
                step = cl.Step(name=event.name, type="tool", language="json")
                step.input = render.short(event.input)
                step.start = _now()
                steps[event.tool_use_id] = step
                await step.send()
            elif kind == "ToolFinished":
                step = steps.pop(event.tool_use_id, cl.Step(name=event.name, type="tool"))
                step.end = _now()
                if event.error:
                    step.is_error = True
                    step.output = f"Error: {event.error}"
                else:
                    step.output = render.short(event.output)
                step.name = f"{event.name} · {event.duration_ms:.0f} ms"
                await step.update()
                held = held or writes.is_pending(event.output)
            elif kind == "TurnDone":
                result = event.result
    except Exception as exc:  # the entrypoint edge: the user sees plain words, the log the trace
        for step in steps.values():
            step.is_error = True
            step.output = "stopped"
            await step.update()
        message.content = (said + "\n\n" if said else "") + render.plain_error(exc)
        await message.send()
        return
    pending = writes.pending_write(result.tool_calls) if result is not None else None
    if pending is not None:
        await _ask_to_confirm(service, pending, message, said_before=shown)
        return
    message.content = said
    if result is not None:
        await _attach_result(message, result, turns)
    await message.send()


async def _ask_to_confirm(
    service: Service, pending: writes.PendingWrite, message: cl.Message, *, said_before: str
) -> None:
    """Show what a held-back write would do with Confirm/Cancel buttons; on Confirm call the tool
    again, confirmed, as this chat's user and role, and show what it did."""
    if said_before.strip():  # text streamed before the write's result came
        message.content = said_before
        await message.send()
    question = cl.AskActionMessage(
        content=writes.describe(pending),
        actions=[
            cl.Action(name="confirm_write", payload={"go": True}, label="Confirm"),
            cl.Action(name="cancel_write", payload={"go": False}, label="Cancel"),
        ],
        timeout=CONFIRM_TIMEOUT_S,
    )
    answer = await question.send()
    go = bool(answer and answer.get("payload", {}).get("go"))
    # Chainlit leaves only "Selected: Confirm" there: keep what was confirmed in the thread
    question.content = f"This changes data: **{pending.what()}**. " + (
        "**Confirmed.**" if go else "**Cancelled.**"
    )
    await question.update()
    if not go:
        why = "" if answer else f" (no answer within {CONFIRM_TIMEOUT_S // 60} minutes)"
        await cl.Message(content=f"Cancelled{why}: nothing was changed.").send()
        return
    async with cl.Step(name=pending.tool, type="tool", language="json") as step:
        step.input = render.short(pending.confirmed_arguments())
        try:
            output = await asyncio.to_thread(writes.call_write, service, pending)
        except Exception as exc:  # the entrypoint edge: plain words, the log has the trace
            step.is_error = True
            step.output = str(exc)
            await cl.Message(content=render.plain_error(exc)).send()
            return
        step.output = render.short(output)
    await cl.Message(content=writes.outcome_text(output)).send()


async def _attach_result(message: cl.Message, result: Any, turns: Turns) -> None:
    text = message.content or result.answer or ""
    message.content = render.without_tables(text, result.tables) if result.tables else text
    elements: list[Any] = []
    for index, table in enumerate(result.tables):
        elements.append(
            cl.Dataframe(
                data=render.table_frame(table), name=f"table {index + 1}", display="inline"
            )
        )
    for index, chart in enumerate(result.charts):
        try:
            elements.append(
                cl.Plotly(figure=render.figure(chart), name=f"chart {index + 1}", display="inline")
            )
        except ValueError:
            log.warning("chart %d could not be rendered", index, exc_info=True)
    message.elements = elements
    if not result.tables and not result.sql:
        return
    turn_id = uuid.uuid4().hex
    try:  # in a thread: the data layer commits this thread's steps on the event loop meanwhile
        await asyncio.to_thread(
            turns.store.save,
            turn_id,
            thread_id=turns.thread_id,
            message_id=message.id,
            user=turns.user,
            sql=list(result.sql),
            tables=list(result.tables),
        )
    except sqlite3.Error:  # the answer still shows; only its buttons are left off
        log.warning("could not keep the results of turn %s", turn_id, exc_info=True)
        return
    message.actions = actions_for(turn_id, tables=bool(result.tables), sql=bool(result.sql))


def actions_for(turn_id: str, *, tables: bool, sql: bool) -> list[cl.Action]:
    """The buttons under an answer, each carrying only the turn id."""
    payload = {"turn": turn_id}
    actions = []
    if tables:
        actions += [
            cl.Action(name="chart_this", payload=payload, label="Chart this"),
            cl.Action(name="download_csv", payload=payload, label="Download CSV"),
        ]
    if sql:
        actions.append(cl.Action(name="show_sql", payload=payload, label="Show SQL"))
    return actions


async def restore_actions(thread: Any, turns: Turns) -> int:
    """Send the buttons of a resumed thread's answers again (Chainlit keeps no actions);
    returns how many answers got theirs back."""
    messages = {step["id"] for step in thread.get("steps", [])}
    restored = 0
    saved = await asyncio.to_thread(turns.store.of_thread, turns.thread_id, user=turns.user)
    for turn in saved:
        if turn.message_id not in messages:
            continue
        for action in actions_for(turn.id, tables=bool(turn.tables), sql=bool(turn.sql)):
            await action.send(for_id=turn.message_id)
        restored += 1
    return restored


async def turn_for(action: cl.Action, turns: Turns) -> SavedTurn | None:
    """The saved results of the answer an action button belongs to, if this user's thread has it."""
    turn_id = str(action.payload.get("turn"))
    return await asyncio.to_thread(
        turns.store.get, turn_id, thread_id=turns.thread_id, user=turns.user
    )


_GONE: Final = "I no longer have the results of that answer; please ask again."


async def show_sql(action: cl.Action, turns: Turns) -> None:
    """Reply with the SQL behind an answer."""
    turn = await turn_for(action, turns)
    await cl.Message(content=render.sql_markdown(turn.sql) if turn else _GONE).send()


async def download_csv(action: cl.Action, turns: Turns) -> None:
    """Offer the answer's tables as CSV files."""
    turn = await turn_for(action, turns)
    if not turn or not turn.tables:
        await cl.Message(content=_GONE).send()
        return
    files = [
        cl.File(name=f"encore-table-{i + 1}.csv", content=render.table_csv(t), mime="text/csv")
        for i, t in enumerate(turn.tables)
    ]
    await cl.Message(content="Here is the table as CSV.", elements=files).send()


async def chart_turn(action: cl.Action, turns: Turns, context: ToolContext) -> None:
    """Chart the first table of the answer the button is under (drawn here, from the saved
    table, so it works on a resumed thread and charts that answer rather than the latest)."""
    turn = await turn_for(action, turns)
    if not turn or not turn.tables:
        await cl.Message(content=_GONE).send()
        return
    table = turn.tables[0]
    try:
        chart = make_chart(context, table=table, **render.chart_choice(table))
    except EncoreError as exc:
        await cl.Message(content=render.plain_error(exc)).send()
        return
    figure = cl.Plotly(figure=render.figure(chart.model_dump()), name="chart", display="inline")
    await cl.Message(content=chart.note or chart.title, elements=[figure]).send()


async def ingest_upload(settings: Settings, files: list[cl.File], user: str, role: str) -> None:
    """Ask for confirmation, then ingest uploads with a progress step and a quality summary."""
    if role not in ("analyst", "admin"):
        await cl.Message(content=f"The {role} role may not load data; ask an analyst.").send()
        return
    usable = [f for f in files if f.path and Path(f.name).suffix.lower() in _UPLOAD_TYPES]
    if not usable:
        names = ", ".join(f.name for f in files)
        await cl.Message(
            content=f"I can ingest {', '.join(_UPLOAD_TYPES)} files; {names} is not one of them."
        ).send()
        return
    names = ", ".join(f.name for f in usable)
    answer = await cl.AskActionMessage(
        content=f"Load **{names}** into the warehouse? Bad rows are quarantined, not loaded.",
        actions=[
            cl.Action(name="ingest", payload={"go": True}, label="Ingest"),
            cl.Action(name="cancel", payload={"go": False}, label="Cancel"),
        ],
        timeout=300,
    ).send()
    if not answer or not answer.get("payload", {}).get("go"):
        await cl.Message(content="Nothing was loaded.").send()
        return
    target_dir = uploads_dir(settings) / uuid.uuid4().hex[:8]
    target_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for upload in usable:
        target = target_dir / Path(upload.name).name
        shutil.copyfile(str(upload.path), target)
        paths.append(target)
    loop = asyncio.get_running_loop()
    async with cl.Step(name="ingest", type="tool") as step:
        step.input = names

        def progress(outcome: FileOutcome) -> None:
            line = f"{outcome.path.name}: {outcome.status} {outcome.message}".strip()
            asyncio.run_coroutine_threadsafe(step.stream_token(line + "\n"), loop)

        try:
            outcomes = await asyncio.to_thread(
                ingest_files, settings, paths, source=f"upload:{user}", on_file=progress
            )
        except Exception as exc:
            step.is_error = True
            await cl.Message(content=render.plain_error(exc)).send()
            return
    await cl.Message(content="**Ingestion finished**\n\n" + render.ingest_summary(outcomes)).send()


_LOAD_VERBS: Final = frozenset({"load", "ingest", "import", "upload", "add", "put"})
# fmt: off
_LOAD_FILLER: Final = frozenset([
    "please", "pls", "kindly", "can", "could", "would", "will", "you", "u", "i", "we", "want",
    "to", "like", "d", "id", "love", "wanna", "need", "this", "these", "that", "those", "the",
    "a", "an", "my", "our", "attached", "uploaded", "new", "here", "is", "are", "it", "them",
    "file", "files", "csv", "tsv", "json", "jsonl", "ndjson", "xml", "data", "rows", "records",
    "dataset", "into", "in", "onto", "warehouse", "database", "db", "encore", "now", "for", "me",
    "us", "thanks", "thank", "and", "go", "ahead", "ok", "okay", "just",
])
# fmt: on


def only_asks_to_load(text: str, files: list[str]) -> bool:
    """Whether a message sent with files only asks to load them ("please load this file"), so
    the upload's confirmation answers it and the agent is not asked as well."""
    named = {part for name in files for part in re.split(r"[^a-z0-9]+", name.lower()) if part}
    words = [w for w in re.split(r"[^a-z0-9]+", text.lower()) if w]
    if not words:
        return True
    return any(w in _LOAD_VERBS for w in words) and all(
        w in _LOAD_VERBS or w in _LOAD_FILLER or w in named for w in words
    )


def preferences_markdown(prefs: dict[str, Any]) -> str:
    """What the agent remembers about the user, as a short list."""
    shown = {k: v for k, v in prefs.items() if v not in (None, "", [])}
    if not shown:
        return "I don't remember any preferences yet. Edit them in the settings panel (⚙)."
    lines = [
        f"- **{k}**: {', '.join(map(str, v)) if isinstance(v, list) else v}"
        for k, v in shown.items()
    ]
    return (
        "What I remember about you:\n" + "\n".join(lines) + "\n\nEdit them in the settings panel."
    )


def apply_preferences(service: Service, values: dict[str, Any]) -> list[str]:
    """Save edited preference fields (comma lists for genres/artists); returns the kinds changed."""
    current = service.preferences()
    changed = []
    for kind in PREFERENCE_KINDS:
        raw = str(values.get(f"pref_{kind}") or "").strip()
        value: Any
        if kind in ("genres", "artists"):
            value = [part.strip() for part in raw.split(",") if part.strip()]
        elif kind == "budget":
            value = float(raw) if raw.replace(".", "", 1).isdigit() else None
        else:
            value = raw or None
        if value in (None, []):
            if current.get(kind) not in (None, "", []):
                service.forget(kind)
                changed.append(kind)
        elif value != current.get(kind):
            service.set_preference(kind, value)
            changed.append(kind)
    return changed
