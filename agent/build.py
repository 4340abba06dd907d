"""Build the Strands agent: MCP tools, memory tools, system prompt, conversation window, model.

One MCP client (one `python -m mcp_servers all` subprocess, or one HTTP session) is shared by every
agent of the process with the same data, role and user, so a new chat session starts in
milliseconds; `close_mcp_clients()` (also run at exit) stops them.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import sys
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from mcp import StdioServerParameters, stdio_client
from strands import Agent
from strands.agent.conversation_manager import SlidingWindowConversationManager
from strands.models import Model
from strands.tools.mcp import MCPClient
from strands.types.content import Messages
from strands.types.tools import AgentTool

from agent.config import AgentSettings
from agent.memory.base import Memory
from agent.memory.failsoft import FailSoftMemory
from agent.memory.local import LocalMemory
from agent.memory.tools import memory_tools
from agent.prompt import system_prompt
from agent.providers import build_model
from core.errors import ConfigError
from core.settings import Settings

log = logging.getLogger(__name__)
_ROOT = Path(__file__).resolve().parents[1]
_clients: dict[tuple[str, ...], MCPClient] = {}
_lock = threading.Lock()


def _server_env(settings: Settings, *, user: str, role: str) -> dict[str, str]:
    """The parent's environment plus every Settings field as ENCORE_*, so the server sees the
    same data directory and limits as the agent."""
    env = dict(os.environ)
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        key = f"ENCORE_{name.upper()}"
        env[key] = json.dumps(value) if isinstance(value, list | dict) else str(value)
    env |= {"ENCORE_USER": user, "ENCORE_ROLE": role, "AWS_EC2_METADATA_DISABLED": "true"}
    return env


def mcp_client(
    settings: Settings,
    *,
    user: str,
    role: str,
    url: str | None = None,
    command: list[str] | None = None,
    timeout_s: int = 60,
) -> MCPClient:
    """The started MCP client for this data, role and user (shared within the process).

    `url`: a streamable-HTTP server; else `command` (default `python -m mcp_servers all`) runs
    as a stdio subprocess.
    """
    command = command or [sys.executable, "-m", "mcp_servers", "all"]
    key: tuple[str, ...] = (str(settings.data_dir.resolve()), str(settings.warehouse_file))
    key += (role, user, *([url] if url else command))
    with _lock:
        client = _clients.get(key)
        if client is not None:
            return client
        if url:
            client = MCPClient(url=url, startup_timeout=timeout_s)
        else:
            params = StdioServerParameters(
                command=command[0],
                args=command[1:],
                env=_server_env(settings, user=user, role=role),
                cwd=_ROOT,
            )
            client = MCPClient(lambda: stdio_client(params), startup_timeout=timeout_s)
        try:
            client.start()
        except Exception as exc:
            where = f"ENCORE_MCP_URL={url} is reachable" if url else f"`{' '.join(command)}` runs"
            raise ConfigError(
                f"the MCP tool server did not start ({exc}); check that {where}",
                command=command,
            ) from exc
        _clients[key] = client
        return client


def close_mcp_clients() -> None:
    """Stop every shared MCP client (and its subprocess)."""
    with _lock:
        clients = list(_clients.values())
        _clients.clear()
        _models.clear()
    vocabulary_reader.cache_clear()
    _tools_of.cache_clear()
    for client in clients:
        try:
            client.stop(None, None, None)
        except Exception as exc:  # shutting down: report, keep closing the others
            log.warning("MCP client did not stop cleanly: %s", exc)


atexit.register(close_mcp_clients)


@lru_cache(maxsize=64)
def _tools_of(client: MCPClient) -> tuple[AgentTool, ...]:
    return tuple(client.list_tools_sync())


@lru_cache(maxsize=64)
def vocabulary_reader(client: MCPClient) -> Any:
    """`vocabulary(kind)` reading the MCP resource encore://vocabulary/{kind}, cached per client
    so new sessions do not read the vocabularies again."""

    @lru_cache(maxsize=16)
    def vocabulary(kind: str) -> list[str]:
        result = client.read_resource_sync(f"encore://vocabulary/{kind}")
        text = getattr(result.contents[0], "text", "{}") if result.contents else "{}"
        return list(json.loads(text).get("names", []))  # a tools.query.catalog.Vocabulary

    return vocabulary


_models: dict[tuple[int, str], Model] = {}


def _shared_model(
    spec: str, agent_settings: AgentSettings, client: MCPClient, settings: Settings
) -> Model:
    """The offline planner keeps no conversation state of its own (it reads it from the
    messages), so one instance with its gazetteers serves every session on the same client."""
    if spec != "offline":
        return build_model(
            spec, agent_settings, vocabulary=vocabulary_reader(client), region=settings.aws_region
        )
    key = (id(client), spec)
    with _lock:
        if key not in _models:
            _models[key] = build_model(spec, agent_settings, vocabulary=vocabulary_reader(client))
        return _models[key]


def open_memory(settings: Settings, agent_settings: AgentSettings) -> FailSoftMemory:
    """The configured memory store, wrapped so a failing store never breaks a turn."""
    inner: Memory
    if agent_settings.memory == "agentcore":
        from agent.memory.agentcore import AgentCoreMemory

        inner = AgentCoreMemory(agent_settings.memory_id, region=settings.aws_region)
    else:
        inner = LocalMemory(
            settings.memory_dir,
            max_age_days=agent_settings.memory_max_age_days,
            max_events=agent_settings.memory_max_events,
        )
    return FailSoftMemory(inner)


def build_agent(
    settings: Settings,
    *,
    user: str,
    session: str,
    role: str,
    model: str | Model | None = None,
    memory: Memory | None = None,
    agent_settings: AgentSettings | None = None,
    mcp: MCPClient | None = None,
    history: Messages | None = None,
) -> Agent:
    """A Strands agent for `user` in `session`, its tools from the MCP servers.

    `model` is a spec ("offline", "openai:gpt-4o-mini", ...) or a ready Strands model; `mcp` an
    already started client (default: the shared one for this settings/role/user).
    """
    agent_settings = agent_settings or AgentSettings()
    memory = memory or open_memory(settings, agent_settings)
    client = mcp or mcp_client(
        settings,
        user=user,
        role=role,
        url=agent_settings.mcp_url,
        command=agent_settings.mcp_command,
        timeout_s=agent_settings.mcp_startup_timeout_s,
    )
    if model is None or isinstance(model, str):
        model = _shared_model(model or agent_settings.model, agent_settings, client, settings)
    tools: list[Any] = [*_tools_of(client), *memory_tools(memory, user)]
    return Agent(
        model=model,
        tools=tools,
        messages=list(history or []),
        system_prompt=system_prompt(memory.preferences(user), user=user),
        conversation_manager=SlidingWindowConversationManager(
            window_size=agent_settings.window_messages
        ),
        callback_handler=None,
        name="encore",
        agent_id=f"encore-{user}",
        trace_attributes={"session.id": session, "user.id": user, "encore.role": role},
        load_tools_from_directory=False,
    )
