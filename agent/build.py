"""Build the Strands agent: MCP tools, memory tools, system prompt, conversation window, model.

Each (data, role) has one MCP client: a `python -m mcp_servers all` subprocess (~250-300 MB)
whose tools are bound to that role at start and shared by the role's users: each agent's tools
name their user in every call's `_meta` (`mcp_servers/binding.py`: only a server the agent
started so trusts it), so the audit log names who asked while a new user starts nothing.
With `ENCORE_MCP_SHARE=false`, or a server at `ENCORE_MCP_URL` (which cannot trust a caller's
word), each (data, role, user) has a client of its own whose user is fixed at start.

A pool keeps at most `max_live` of them running and stops those idle for `idle_s`; a stopped
client starts again, with its own role (and user), on the next call an agent makes through it.

A restart costs a user seconds (20 s and more on a busy machine), so the pool avoids them:

- a running turn holds its client (`mcp_turn`): it is never stopped between the turn's calls;
- a client that must start takes a free slot, else the slot of the client idle longest if that
  one has been idle `linger_s` (its user has likely gone); else, while more users are active
  than `max_live`, it starts beyond it, up to `hard_limit()` (1.5x); there it stops the client
  idle longest, or waits up to `slot_wait_s` for a turn to end (then starts anyway: a turn
  never fails for want of a slot);
- clients beyond `max_live` stop once idle for `linger_s`, any client once idle for `idle_s`.

`configure_mcp_pool()` sets the bounds; `close_mcp_clients()` (also run at exit) stops every
client, `close_mcp_clients(users=...)` only those users' clients.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import importlib
import json
import logging
import os
import sys
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

from mcp import StdioServerParameters, stdio_client
from strands import Agent
from strands.agent.conversation_manager import SlidingWindowConversationManager
from strands.models import Model
from strands.tools.mcp import MCPAgentTool, MCPClient
from strands.types.content import Messages
from strands.types.tools import AgentTool

from agent.config import AgentSettings
from agent.memory.base import Memory
from agent.memory.failsoft import FailSoftMemory, UnavailableMemory
from agent.memory.local import LocalMemory
from agent.memory.tools import memory_tools
from agent.prompt import system_prompt
from agent.providers import build_model
from core.errors import ConfigError
from core.settings import Settings
from tools.context import CALL_USER_META

log = logging.getLogger(__name__)
_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MAX_LIVE = 8
DEFAULT_IDLE_S = 600.0
DEFAULT_SLOT_WAIT_S = 30.0
DEFAULT_LINGER_S = 30.0


SHARED_USER = "*"
"""The user part of a shared client's key: its calls name their users."""


def _server_env(
    settings: Settings, *, user: str, role: str, per_call_user: bool = False
) -> dict[str, str]:
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
    env |= {"ENCORE_USER": user, "ENCORE_ROLE": role, "AWS_EC2_METADATA_DISABLED": "true",
            "ENCORE_MCP_PER_CALL_USER": str(per_call_user).lower()}  # fmt: skip
    return env


class PooledMCPClient(MCPClient):
    """An MCP client of the pool: every call first makes sure it runs (starting it again after
    the pool stopped it) and marks it busy, so the pool never stops it in the middle of a call;
    `held` counts the running turns of agents on it, which keep it up between their calls.

    It also keeps what agents built on it share: its tool list, vocabulary reader and offline
    planner, which live as long as the client object (not its subprocess).
    """

    def __init__(self, key: tuple[str, ...], describe: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.key = key
        self.describe = describe  # what to check when it does not start
        self.users: set[str] = set()  # whose agents have used it
        self.busy = 0
        self.held = 0
        self.last_used = time.monotonic()
        self.starts = 0
        self.start_lock = threading.Lock()
        self.tools: tuple[AgentTool, ...] | None = None
        self.vocabulary: Callable[[str], list[str]] | None = None
        self.models: dict[str, Model] = {}

    def list_tools_sync(self, *args: Any, **kwargs: Any) -> Any:
        with _POOL.using(self):
            return super().list_tools_sync(*args, **kwargs)

    def read_resource_sync(self, *args: Any, **kwargs: Any) -> Any:
        with _POOL.using(self):
            return super().read_resource_sync(*args, **kwargs)

    def call_tool_sync(self, *args: Any, **kwargs: Any) -> Any:
        with _POOL.using(self):
            return super().call_tool_sync(*args, **kwargs)

    async def call_tool_async(self, *args: Any, **kwargs: Any) -> Any:
        # a restart blocks for a second or two: off the event loop, which serves other users
        await asyncio.to_thread(_POOL.acquire, self)
        try:
            return await super().call_tool_async(*args, **kwargs)
        finally:
            _POOL.release(self)

    def running(self) -> bool:
        return self._is_session_active()


class _Using:
    def __init__(self, pool: _ClientPool, client: PooledMCPClient) -> None:
        self.pool, self.client = pool, client

    def __enter__(self) -> None:
        self.pool.acquire(self.client)

    def __exit__(self, *exc: object) -> None:
        self.pool.release(self.client)


class _ClientPool:
    """`max_live` running clients, more during a burst of active users (up to `hard_limit()`);
    a client in a call or held by a running turn is never stopped (see the module docstring)."""

    def __init__(
        self,
        max_live: int = DEFAULT_MAX_LIVE,
        idle_s: float = DEFAULT_IDLE_S,
        slot_wait_s: float = DEFAULT_SLOT_WAIT_S,
        linger_s: float = DEFAULT_LINGER_S,
    ) -> None:
        self.max_live = max_live
        self.idle_s = idle_s
        self.slot_wait_s = slot_wait_s
        self.linger_s = linger_s
        self._lock = threading.Lock()
        self._freed = threading.Condition(self._lock)  # a client became idle or stopped
        self._starting = 0  # slots taken by clients starting now (not yet in _live)
        # one client object per key while any agent holds it, running or not: a second object
        # for the same key would start a second subprocess
        self._known: weakref.WeakValueDictionary[tuple[str, ...], PooledMCPClient] = (
            weakref.WeakValueDictionary()
        )
        self._live: OrderedDict[tuple[str, ...], PooledMCPClient] = OrderedDict()  # LRU first
        self._wake = threading.Event()
        self._reaper: threading.Thread | None = None
        self.explicit = False  # set by configure_mcp_pool: then the environment's bounds yield

    def hard_limit(self) -> int:
        """Running clients during a burst: half again `max_live` (8 -> 12)."""
        return self.max_live + max(1, self.max_live // 2)

    def live(self) -> list[PooledMCPClient]:
        """The running clients, least recently used first."""
        with self._lock:
            return list(self._live.values())

    def client(self, key: tuple[str, ...], make: Callable[[], PooledMCPClient]) -> PooledMCPClient:
        """The client object for `key` (not started)."""
        with self._lock:
            client = self._known.get(key)
            if client is None:
                client = self._known[key] = make()
            return client

    def using(self, client: PooledMCPClient) -> _Using:
        return _Using(self, client)

    def hold(self, client: PooledMCPClient) -> None:
        """A turn on `client` begins: keep it running until `unhold` (starts nothing)."""
        with self._lock:
            client.held += 1

    def unhold(self, client: PooledMCPClient) -> None:
        with self._lock:
            client.held -= 1
            client.last_used = time.monotonic()
            victims = self._pick(lambda c: len(self._live) > self.hard_limit())
            self._freed.notify_all()
        self._stop(victims, "the pool is over its hard limit")

    def acquire(self, client: PooledMCPClient) -> None:
        """Mark `client` busy, starting it (and making room) if the pool had stopped it."""
        with self._lock:
            client.busy += 1
            client.last_used = time.monotonic()
            if client.key in self._live and self._live[client.key] is client:
                self._live.move_to_end(client.key)
                return
        try:
            with client.start_lock:
                if not client.running():
                    self._stop(self._make_room(client), "room for another user's turn")
                    try:
                        self._start(client)
                    finally:
                        with self._lock:
                            self._starting -= 1
        except BaseException:
            self.release(client)
            raise
        with self._lock:
            self._live[client.key] = client
            self._live.move_to_end(client.key)
        self._ensure_reaper()

    def _make_room(self, client: PooledMCPClient) -> list[PooledMCPClient]:
        """Take a slot for `client` (the clients returned are to stop): see the module
        docstring for the order."""
        deadline = time.monotonic() + self.slot_wait_s

        def lingered(c: PooledMCPClient) -> bool:  # its user has likely gone
            return time.monotonic() - c.last_used >= self.linger_s

        with self._lock:
            while True:
                taken = len(self._live) + self._starting
                now = time.monotonic()
                victims: list[PooledMCPClient] = []
                if taken >= self.max_live:
                    victims = self._pick(lingered, limit=1)
                    if not victims and taken >= self.hard_limit():
                        victims = self._pick(lambda c: True, limit=1)
                if victims or taken < self.hard_limit():
                    self._starting += 1
                    return victims
                left = deadline - now
                if left <= 0:
                    log.warning(
                        "all %d MCP clients are in use by running turns; starting one more "
                        "for %s beyond the pool's hard limit",
                        taken,
                        client.key[2:4],
                    )
                    self._starting += 1
                    return []
                self._freed.wait(left)

    def release(self, client: PooledMCPClient) -> None:
        with self._lock:
            client.busy -= 1
            client.last_used = time.monotonic()
            victims = self._pick(lambda c: len(self._live) > self.hard_limit())
            self._freed.notify_all()
        self._stop(victims, "the pool is over its hard limit")

    def _start(self, client: PooledMCPClient) -> None:
        try:
            client.start()
        except Exception as exc:
            raise ConfigError(
                f"the MCP tool server did not start ({exc}); check that {client.describe}",
                key=list(client.key),
            ) from exc
        client.starts += 1
        log.info("MCP client started (%d running): %s", len(self._live) + 1, client.key[2:4])

    def _pick(
        self, over: Callable[[PooledMCPClient], bool], limit: int | None = None
    ) -> list[PooledMCPClient]:
        """Remove and return running clients no call uses and no turn holds, idle longest
        first, while `over` (at most `limit`)."""
        victims: list[PooledMCPClient] = []
        for client in sorted(self._live.values(), key=lambda c: c.last_used):
            if limit is not None and len(victims) >= limit:
                break
            if client.busy == 0 and client.held == 0 and over(client):
                del self._live[client.key]
                victims.append(client)
        return victims

    def _stop(self, victims: list[PooledMCPClient], why: str) -> None:
        for client in victims:
            with client.start_lock:
                with self._lock:  # someone may have wanted it again since it was picked
                    if client.busy or self._live.get(client.key) is client:
                        continue
                if not client.running():
                    continue
                log.info("stopping the MCP client of %s: %s", client.key[2:4], why)
                try:
                    client.stop(None, None, None)
                except Exception as exc:  # stopping: report, keep the pool going
                    log.warning("MCP client did not stop cleanly: %s", exc)
            with self._lock:
                self._freed.notify_all()

    def _ensure_reaper(self) -> None:
        with self._lock:
            if self._reaper is not None and self._reaper.is_alive():
                return
            self._wake.clear()
            self._reaper = threading.Thread(
                target=self._reap, name="encore-mcp-pool-reaper", daemon=True
            )
            self._reaper.start()

    def _reap(self) -> None:
        """Stop clients idle longer than `idle_s`, and those beyond `max_live` idle longer than
        `linger_s`, until the pool is empty."""
        while True:
            self._wake.wait(min(max(min(self.idle_s, self.linger_s) / 4, 0.05), 30.0))
            self._wake.clear()
            now = time.monotonic()

            def stale(client: PooledMCPClient, now: float = now) -> bool:
                return now - client.last_used >= self.idle_s

            def spare(client: PooledMCPClient, now: float = now) -> bool:
                over = len(self._live) > self.max_live
                return over and now - client.last_used >= self.linger_s

            with self._lock:
                victims = self._pick(stale) + self._pick(spare)
                empty = not self._live
                if empty and not victims:
                    self._reaper = None
                    return
            self._stop(victims, "idle")

    def configure(
        self,
        *,
        max_live: int | None,
        idle_s: float | None,
        slot_wait_s: float | None = None,
        linger_s: float | None = None,
    ) -> None:
        with self._lock:
            for name, value in (("slot_wait_s", slot_wait_s), ("linger_s", linger_s)):
                if value is not None:
                    if value < 0:
                        raise ConfigError(f"the MCP pool's {name} is 0 or more; got {value}")
                    setattr(self, name, value)
            if max_live is not None:
                if max_live < 1:
                    raise ConfigError(f"the MCP pool needs room for 1 client; got {max_live}")
                self.max_live = max_live
            if idle_s is not None:
                if idle_s <= 0:
                    raise ConfigError(f"the MCP idle timeout is positive; got {idle_s}")
                self.idle_s = idle_s
            victims = self._pick(lambda c: len(self._live) > self.max_live)
        self._wake.set()
        self._stop(victims, "the pool was made smaller")

    def close(self, which: Callable[[PooledMCPClient], bool] = lambda c: True) -> None:
        """Stop every running client, or those `which` selects (they start again if used)."""
        with self._lock:
            victims = self._pick(which)
            busy = [c for c in self._live.values() if which(c)]
            for client in busy:
                del self._live[client.key]
            known = [c for c in self._known.values() if which(c)]
        self._stop(victims, "closing")
        for client in busy:  # shutting down: stop them even mid-call
            try:
                client.stop(None, None, None)
            except Exception as exc:
                log.warning("MCP client did not stop cleanly: %s", exc)
        for client in known:
            client.tools, client.vocabulary, client.models = None, None, {}


_POOL = _ClientPool()


def configure_mcp_pool(
    *,
    max_live: int | None = None,
    idle_s: float | None = None,
    slot_wait_s: float | None = None,
    linger_s: float | None = None,
) -> None:
    """Bound the MCP clients this process runs (each a ~250-300 MB subprocess): `max_live` at
    once (default 8; half again as many while more users are active, stopped once idle for
    `linger_s`, default 30), none idle for longer than `idle_s` (default 600); at the hard limit
    a start waits up to `slot_wait_s` (default 30) for a running turn to end."""
    _POOL.configure(max_live=max_live, idle_s=idle_s, slot_wait_s=slot_wait_s, linger_s=linger_s)
    _POOL.explicit = True


def _pool_bounds_from(agent_settings: AgentSettings) -> None:
    """ENCORE_MCP_MAX_LIVE / ENCORE_MCP_IDLE_S bound the pool, unless code has set bounds."""
    if not _POOL.explicit:
        _POOL.configure(max_live=agent_settings.mcp_max_live, idle_s=agent_settings.mcp_idle_s)


def live_mcp_clients() -> list[PooledMCPClient]:
    """The MCP clients running now, least recently used first."""
    return _POOL.live()


_CLIENT_OF: weakref.WeakKeyDictionary[Agent, PooledMCPClient] = weakref.WeakKeyDictionary()


@contextmanager
def mcp_turn(agent: Agent) -> Iterator[None]:
    """Around one turn of `agent`: its pooled MCP client is not stopped between the turn's tool
    calls (it still starts only when a call needs it)."""
    client = _CLIENT_OF.get(agent)
    if client is None:
        yield
        return
    _POOL.hold(client)
    try:
        yield
    finally:
        _POOL.unhold(client)


def mcp_client(
    settings: Settings,
    *,
    user: str,
    role: str,
    url: str | None = None,
    command: list[str] | None = None,
    timeout_s: int = 60,
    shared: bool = False,
) -> PooledMCPClient:
    """The started MCP client for this data, role and user (one per process; pooled).

    `url`: a streamable-HTTP server; else `command` (default `python -m mcp_servers all`) runs
    as a stdio subprocess. `shared`: a stdio server serves every user of the role, each call
    naming its user (see `tools_for`).
    """
    command = command or [sys.executable, "-m", "mcp_servers", "all"]
    shared = shared and not url
    key: tuple[str, ...] = (str(settings.data_dir.resolve()), str(settings.warehouse_file))
    key += (role, SHARED_USER if shared else user, *([url] if url else command))

    def make() -> PooledMCPClient:
        if url:
            where = f"ENCORE_MCP_URL={url} is reachable"
            return PooledMCPClient(key, where, url=url, startup_timeout=timeout_s)
        params = StdioServerParameters(
            command=command[0],
            args=command[1:],
            # a shared server's calls without a named user are the agent's own
            env=_server_env(
                settings, user="agent" if shared else user, role=role, per_call_user=shared
            ),
            cwd=_ROOT,
        )
        where = f"`{' '.join(command)}` runs"
        return PooledMCPClient(
            key, where, transport_callable=lambda: stdio_client(params), startup_timeout=timeout_s
        )

    client = _POOL.client(key, make)
    client.users.add(user)
    with _POOL.using(client):
        return client


def close_mcp_clients(*, users: Collection[str] | None = None) -> None:
    """Stop every MCP client (and its subprocess), or only those no user but `users` has used
    (leaving other sessions of the process theirs); a later call starts them again."""
    if users is not None:
        _POOL.close(lambda client: client.users <= set(users))
        return
    _POOL.close()
    with _lock:
        _memories.clear()


atexit.register(close_mcp_clients)


def _tools_of(client: MCPClient) -> tuple[AgentTool, ...]:
    if not isinstance(client, PooledMCPClient):
        return tuple(client.list_tools_sync())
    if client.tools is None:
        client.tools = tuple(client.list_tools_sync())
    return client.tools


class _CallsAs:
    """`client` naming `user` in the `_meta` of every tool call, for a shared server's audit
    (`MCPAgentTool` only calls `call_tool_async` on its client)."""

    def __init__(self, client: MCPClient, user: str) -> None:
        self.client, self.user = client, user

    async def call_tool_async(self, **kwargs: Any) -> Any:
        kwargs["meta"] = {**(kwargs.get("meta") or {}), CALL_USER_META: self.user}
        return await self.client.call_tool_async(**kwargs)


def tools_for(client: MCPClient, user: str) -> list[AgentTool]:
    """The client's MCP tools for an agent of `user`: on a shared server each call names them."""
    tools = _tools_of(client)
    if not (isinstance(client, PooledMCPClient) and client.key[3] == SHARED_USER):
        return list(tools)
    caller = cast(MCPClient, _CallsAs(client, user))
    return [
        MCPAgentTool(t.mcp_tool, caller, name_override=t.tool_name, timeout=t.timeout)
        if isinstance(t, MCPAgentTool)
        else t
        for t in tools
    ]


def vocabulary_reader(client: MCPClient) -> Callable[[str], list[str]]:
    """`vocabulary(kind)` reading the MCP resource encore://vocabulary/{kind}, cached per client
    so new sessions do not read the vocabularies again."""
    if isinstance(client, PooledMCPClient) and client.vocabulary is not None:
        return client.vocabulary

    @lru_cache(maxsize=16)
    def vocabulary(kind: str) -> list[str]:
        result = client.read_resource_sync(f"encore://vocabulary/{kind}")
        text = getattr(result.contents[0], "text", "{}") if result.contents else "{}"
        return list(json.loads(text).get("names", []))  # a tools.query.catalog.Vocabulary

    if isinstance(client, PooledMCPClient):
        client.vocabulary = vocabulary
    return vocabulary


_lock = threading.Lock()
_memories: dict[tuple[str, float, int], LocalMemory] = {}


_OFFLINE_PLANNER = "agent.planner.model"


def _preload(module: str) -> None:
    """Import `module` in a thread (the offline planner's scikit-learn and SciPy: about a
    second), so that a caller waiting on something else (an MCP server starting in its own
    process) finds it imported; an import failure shows where the module is next imported."""

    def load() -> None:
        with contextlib.suppress(ImportError):
            importlib.import_module(module)

    if module not in sys.modules:
        threading.Thread(target=load, name=f"preload {module}", daemon=True).start()


def _shared_model(
    spec: str, agent_settings: AgentSettings, client: MCPClient, settings: Settings
) -> Model:
    """The offline planner keeps no conversation state of its own (it reads it from the
    messages), so one instance with its gazetteers serves every session on the same client."""
    if spec != "offline" or not isinstance(client, PooledMCPClient):
        return build_model(
            spec, agent_settings, vocabulary=vocabulary_reader(client), region=settings.aws_region
        )
    with _lock:
        if spec not in client.models:
            client.models[spec] = build_model(
                spec, agent_settings, vocabulary=vocabulary_reader(client)
            )
        return client.models[spec]


def open_memory(settings: Settings, agent_settings: AgentSettings) -> FailSoftMemory:
    """The configured memory store, wrapped so a failing store never breaks a turn; a store
    that cannot even be opened (a damaged file) leaves the agent answering without memory."""
    try:
        return FailSoftMemory(_open_store(settings, agent_settings))
    except Exception as exc:  # memory is optional (DESIGN 5), whatever broke it
        log.warning("memory store unavailable (%s); answering without memory", exc)
        return FailSoftMemory(UnavailableMemory(exc))


def _open_store(settings: Settings, agent_settings: AgentSettings) -> Memory:
    inner: Memory
    if agent_settings.memory == "agentcore":
        from agent.memory.agentcore import AgentCoreMemory

        inner = AgentCoreMemory(agent_settings.memory_id, region=settings.aws_region)
    else:
        # one store (one SQLite connection) per file and limits, shared by every session
        key = (
            str(settings.memory_dir.resolve()),
            agent_settings.memory_max_age_days,
            agent_settings.memory_max_events,
        )
        with _lock:
            local = _memories.get(key)
            if local is None:
                local = _memories[key] = LocalMemory(
                    settings.memory_dir,
                    max_age_days=agent_settings.memory_max_age_days,
                    max_events=agent_settings.memory_max_events,
                )
        inner = local
    return inner


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
    already started client (default: the pooled one for this settings and role, and user unless
    shared).
    """
    agent_settings = agent_settings or AgentSettings()
    memory = memory or open_memory(settings, agent_settings)
    _pool_bounds_from(agent_settings)
    if (model or agent_settings.model) == "offline" and mcp is None:
        _preload(_OFFLINE_PLANNER)  # while the MCP server starts, if it must
    client = mcp or mcp_client(
        settings,
        user=user,
        role=role,
        url=agent_settings.mcp_url,
        command=agent_settings.mcp_command,
        timeout_s=agent_settings.mcp_startup_timeout_s,
        shared=agent_settings.mcp_share,
    )
    if model is None or isinstance(model, str):
        model = _shared_model(model or agent_settings.model, agent_settings, client, settings)
    tools: list[Any] = [*tools_for(client, user), *memory_tools(memory, user)]
    agent = Agent(
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
    if isinstance(client, PooledMCPClient):
        _CLIENT_OF[agent] = client
    return agent
