"""Encore's chat page: Chainlit callbacks only; the work lives in `agent.ui`.

Run with `encore ui` (agent.ui.launch.start_ui), which prepares the JWT secret, the demo user and
the history tables, or directly: `chainlit run chainlit_app.py --headless` with ENCORE_DATA_DIR and
CHAINLIT_AUTH_SECRET set. Cognito sign-in turns on when Chainlit's OAUTH_COGNITO_CLIENT_ID,
OAUTH_COGNITO_CLIENT_SECRET and OAUTH_COGNITO_DOMAIN are set.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any

import chainlit as cl
import chainlit.config
import chainlit.server
from chainlit.config import config
from chainlit.data.sql_alchemy import SQLAlchemyDataLayer
from chainlit.input_widget import InputWidget, Select, TextInput
from chainlit.types import ThreadDict
from chainlit.user_session import SessionAccessor
from starlette.datastructures import Headers

from agent.ui import chat, dashboard, demo, history, offline, render, storage
from agent.ui.auth import UserStore
from agent.ui.config import ROLES, UiSettings, allowed_role
from core.settings import Settings
from tools.context import ToolContext

SETTINGS = Settings()
UI = UiSettings()
MODELS = [
    "offline",
    "bedrock:us.anthropic.claude-sonnet-4",
    "anthropic:claude-sonnet-4",
    "openai:gpt-4o-mini",
    "ollama:llama3.1",
]
# Chainlit keeps session files in <app root>/.files and deletes that folder when it stops, under
# every other UI started from the same checkout too: each process gets a private folder instead.
_FILES = Path(tempfile.mkdtemp(prefix="encore-ui-files-"))
chainlit.config.FILES_DIRECTORY = chainlit.server.FILES_DIRECTORY = _FILES  # type: ignore[attr-defined]
ELEMENTS = history.element_storage(SETTINGS, config.run.root_path)
TURNS = history.turn_store(SETTINGS)
USERS = UserStore(SETTINGS)
"""Read on every chat message (a stat, the file again only after a change)."""
offline.install()
storage.install(ELEMENTS, config.run.root_path)
dashboard.install(SETTINGS, config.run.root_path)

# this chat's state, typed (the plain `cl.user_session.get` returns Any)
_USER: SessionAccessor[cl.User | None] = cl.user_session.create_accessor("user", None)
_SERVICE: SessionAccessor[chat.Service | None] = cl.user_session.create_accessor("service", None)
_BUILD: SessionAccessor[asyncio.Future[chat.Service] | None] = cl.user_session.create_accessor(
    "service_build", None
)
_SETUP: SessionAccessor[tuple[str, str] | None] = cl.user_session.create_accessor(
    "agent_setup", None
)
"""The model and role the chat's agent runs with."""
_GRANTED: SessionAccessor[str | None] = cl.user_session.create_accessor("granted_role", None)
"""The role the user store gave a password user when last checked (sign-in's copy goes stale)."""
_ENDED: SessionAccessor[bool] = cl.user_session.create_accessor("ended", False)
"""The user was removed: the chat answers nothing more."""


async def _say(content: str) -> None:
    """Post a message from the assistant (Chainlit's `send` carries no annotations)."""
    await cl.Message(content=content).send()  # type: ignore[no-untyped-call]  # no annotations


@cl.data_layer
def _data_layer() -> SQLAlchemyDataLayer:
    return history.data_layer(SETTINGS, ELEMENTS)


@cl.password_auth_callback
async def _password_login(username: str, password: str) -> cl.User | None:
    # hashing takes tens of milliseconds: off the event loop, which serves every chat
    user = await asyncio.to_thread(USERS.authenticate, username, password)
    if user is None:
        return None
    return cl.User(identifier=user.name, metadata={"role": user.role, "provider": "credentials"})


if UI.header_auth:

    @cl.header_auth_callback
    async def _header_login(headers: Headers) -> cl.User | None:
        name = headers.get(UI.header_user)
        role = headers.get(UI.header_role) or "analyst"
        if not name:
            return None
        return cl.User(identifier=name, metadata={"role": role if role in ROLES else "partner"})


if os.environ.get("OAUTH_COGNITO_CLIENT_ID"):

    @cl.oauth_callback
    async def _oauth_login(
        provider_id: str, token: str, raw: dict[str, str], user: cl.User, id_token: str | None
    ) -> cl.User | None:
        user.metadata["role"] = "analyst"
        return user


def _user() -> tuple[str, str]:
    user = _USER.get()
    name = user.identifier if user else "local"
    role = _GRANTED.get() or ((user.metadata or {}).get("role", "analyst") if user else "analyst")
    return name, str(role)


def _password_user() -> str | None:
    """The name of a user who signed in with a password: one of the user store's users (a
    header or Cognito user is vouched for by the proxy or the pool instead)."""
    user = _USER.get()
    if user is None or (user.metadata or {}).get("provider") != "credentials":
        return None
    return user.identifier


async def _still_a_user() -> bool:
    """Check the signed-in user against the user store before the chat does anything for them.

    A removed user's chat ends: its agent stops and every message gets the same reply. A changed
    role applies from this message on, as a pick in settings would.
    """
    name = _password_user()
    if _ENDED.get():
        await _say(chat.removed_text(name or ""))
        return False
    if name is None:
        return True
    stored = USERS.user(name)
    if stored is None:
        _ENDED.set(True)
        service = await _service()
        _SERVICE.set(None)
        _BUILD.set(None)
        if service is not None:
            await service.aclose()
        await _say(chat.removed_text(name))
        return False
    before = _GRANTED.get()
    _GRANTED.set(stored.role)
    if before is not None and before != stored.role:
        await _regrant(before, stored.role)
    return True


async def _regrant(before: str, granted: str) -> None:
    """Run this chat's agent with the user's new role (or the role picked, if still allowed)."""
    service, setup = await _service(), _SETUP.get()
    if service is None or setup is None:  # no agent yet: the next one starts with the new role
        return
    model, running_as = setup
    role = chat.role_after_change(running_as, before, granted)
    if role != running_as:
        service = await _switch(service, model, role)
    await _say(chat.role_change_text(granted, role))
    await _settings_panel(service, model, role)


async def _switch(service: chat.Service, model: str, role: str) -> chat.Service:
    """Replace this chat's agent with one running `model` as `role` (same memory session)."""
    await service.aclose()
    service = await chat.open_service(
        SETTINGS, UI, user=_user()[0], session=cl.context.session.thread_id, role=role, model=model
    )
    _SERVICE.set(service)
    _SETUP.set((model, role))
    return service


def _turns() -> chat.Turns:
    return chat.Turns(TURNS, thread_id=cl.context.session.thread_id, user=_user()[0])


async def _open(session: str) -> None:
    if not await _still_a_user():
        return
    name, role = _user()
    model = os.environ.get("ENCORE_MODEL", "offline")
    # built off the event loop (it may start an MCP server): other chats keep streaming, and a
    # message sent meanwhile waits for this build (`_service`)
    build = asyncio.ensure_future(
        chat.open_service(SETTINGS, UI, user=name, session=session, role=role, model=model)
    )
    _BUILD.set(build)
    try:
        service = await build
    except Exception as exc:  # the entrypoint edge: say it plainly, keep the page usable
        await _say("The agent could not start. " + render.plain_error(exc))
        return
    _SERVICE.set(service)
    _SETUP.set((model, role))
    await _settings_panel(service, model, role)


async def _settings_panel(service: chat.Service, model: str, role: str) -> None:
    """The settings panel: model, role (up to the user's own) and the remembered preferences."""
    prefs = service.preferences()
    widgets: list[InputWidget] = [
        Select(
            id="model", label="Model provider", values=sorted({model, *MODELS}), initial_value=model
        ),
        Select(id="role", label="Role", values=list(ROLES), initial_value=role),
    ]
    for kind in chat.PREFERENCE_KINDS:
        value = prefs.get(kind)
        text = ", ".join(map(str, value)) if isinstance(value, list) else str(value or "")
        widgets.append(TextInput(id=f"pref_{kind}", label=f"Remembered {kind}", initial=text))
    await cl.ChatSettings(widgets).send()  # type: ignore[no-untyped-call]  # no annotations


@cl.set_starters
async def _starters(user: cl.User | None = None, language: str | None = None) -> list[cl.Starter]:
    return [cl.Starter(label=text, message=text) for text in demo.starters(SETTINGS)]


@cl.on_chat_start
async def _start() -> None:
    await _open(cl.context.session.thread_id)


@cl.on_chat_resume
async def _resume(thread: ThreadDict) -> None:
    if not await _still_a_user():
        return
    await chat.restore_actions(thread, _turns())  # first: they need no agent, which may not start
    await _open(thread["id"])


@cl.on_settings_update
async def _settings(values: dict[str, Any]) -> None:
    if not await _still_a_user():
        return
    service = await _service()
    if service is None:
        await _say("The agent is not running; reload the page to try again.")
        return
    granted = _user()[1]
    setup = (values.get("model") or "offline", allowed_role(values.get("role") or granted, granted))
    if setup != _SETUP.get():
        model, role = setup
        service = await _switch(service, model, role)
        await _say(f"Now answering with **{model}** as **{role}**.")
    changed = chat.apply_preferences(service, values)
    if changed:
        await _say("Saved: " + ", ".join(changed) + ".")


async def _service() -> chat.Service | None:
    """This chat's agent service, once its build (if still under way) has finished."""
    service, build = _SERVICE.get(), _BUILD.get()
    if service is None and build is not None:
        with contextlib.suppress(Exception):  # `_open` has already said why it failed
            service = await asyncio.shield(build)
    return service


@cl.on_message
async def _message(message: cl.Message) -> None:
    if not await _still_a_user():
        return
    service = await _service()
    files: list[cl.File] = [e for e in message.elements if isinstance(e, cl.File)]
    if files:
        name, granted = _user()
        role = setup[1] if (setup := _SETUP.get()) else granted
        await chat.ingest_upload(SETTINGS, files, name, role)
        if chat.only_asks_to_load(message.content, [f.name for f in files]):
            return  # the upload's confirmation has answered it
    if service is None:
        await _say("The agent is not running; reload the page to try again.")
        return
    if message.content.strip().lower() in ("/preferences", "/prefs"):
        await _say(chat.preferences_markdown(service.preferences()))
        return
    await chat.run_turn(service, message.content, _turns())


@cl.action_callback("chart_this")
async def _chart_this(action: cl.Action) -> None:
    if not await _still_a_user():
        return
    name, granted = _user()
    role = setup[1] if (setup := _SETUP.get()) else granted
    await chat.chart_turn(action, _turns(), ToolContext(SETTINGS, user=name, role=role))


@cl.action_callback("show_sql")
async def _show_sql(action: cl.Action) -> None:
    if not await _still_a_user():
        return
    await chat.show_sql(action, _turns())


@cl.action_callback("download_csv")
async def _download_csv(action: cl.Action) -> None:
    if not await _still_a_user():
        return
    await chat.download_csv(action, _turns())


@cl.on_chat_end
async def _end() -> None:
    service = await _service()
    if service is not None:
        await service.aclose()
