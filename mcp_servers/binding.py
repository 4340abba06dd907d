"""Turn a `tools/` function into an MCP tool: the ToolContext bound, the rest of the signature kept.

A tool function looks like `fn(ctx: ToolContext, *, arg: T, ...) -> Model`. FastMCP reads a
tool's input schema from its signature and its output schema from the return annotation, so the
wrapper shows FastMCP the signature without `ctx`, with annotations resolved. The call runs in a
worker thread: tools do blocking I/O (DuckDB, HTTP) and must not stall the server's event loop.

A server started with `per_call_user` (the agent's own subprocess, shared by its users) takes
each call's user from the request's `_meta` ("encore/user"), so the audit log names who asked;
any other server ignores it: a desktop client cannot act as someone else.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import re
import time
import typing
from collections.abc import Callable
from typing import Any

import anyio.to_thread
from mcp.server.fastmcp import Context, FastMCP
from mcp.types import ToolAnnotations

from tools.context import CALL_USER_META, ToolContext

READ_ONLY = ToolAnnotations(
    readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=False
)
"""Reads the warehouse or models; changes nothing."""

READS_THE_WEB = ToolAnnotations(
    readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=True
)
"""Reads outside sources (web pages, APIs); changes nothing here."""

WRITES = ToolAnnotations(
    readOnlyHint=False, destructiveHint=False, idempotentHint=True, openWorldHint=True
)
"""Loads data into the warehouse (idempotent merges); needs `confirm=true`."""


class Calls:
    """This process's tool calls: how many run now and when the last one ended (the server's
    warm-up waits for a quiet moment). Changed on the event loop only."""

    def __init__(self) -> None:
        self.running = 0
        self.last_end: float | None = None  # time.monotonic()

    def quiet_for(self) -> float | None:
        """Seconds since the last call ended, none running; None before any call has ended."""
        if self.running or self.last_end is None:
            return None
        return time.monotonic() - self.last_end


CALLS = Calls()

_USER_ID = re.compile(r"[\w.@+-]{1,128}")


def caller(ctx: ToolContext, request: Context[Any, Any, Any] | None) -> ToolContext:
    """The context of one call: the user its `_meta` names, where the server trusts it."""
    if not ctx.per_call_user or request is None:
        return ctx
    meta = request.request_context.meta
    named = (meta.model_extra or {}).get(CALL_USER_META) if meta is not None else None
    if named is None:
        return ctx
    if not isinstance(named, str) or not _USER_ID.fullmatch(named):
        raise ValueError(f"_meta {CALL_USER_META!r} must be a user id (letters, digits, ._@+-)")
    return dataclasses.replace(ctx, user=named, per_call_user=False)


def bind(fn: Callable[..., Any], ctx: ToolContext) -> Callable[..., Any]:
    """An async callable with `fn`'s signature minus its first (ToolContext) parameter."""
    hints = typing.get_type_hints(fn)
    signature = inspect.signature(fn)
    params = [
        p.replace(annotation=hints.get(p.name, p.annotation))
        for p in list(signature.parameters.values())[1:]
    ]
    # FastMCP passes its request context to the parameter annotated Context, outside the schema
    request = inspect.Parameter(
        "encore_request", inspect.Parameter.KEYWORD_ONLY, annotation=Context, default=None
    )

    @functools.wraps(fn)
    async def tool(encore_request: Context[Any, Any, Any] | None = None, **kwargs: Any) -> Any:
        call = caller(ctx, encore_request)
        CALLS.running += 1
        try:
            return await anyio.to_thread.run_sync(functools.partial(fn, call, **kwargs))
        finally:
            CALLS.running -= 1
            CALLS.last_end = time.monotonic()

    del tool.__wrapped__  # FastMCP must see the signature below, not fn's
    tool.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*params, request],
        return_annotation=hints.get("return", signature.return_annotation),
    )
    tool.__annotations__ = {p.name: p.annotation for p in (*params, request)} | {
        "return": hints.get("return", Any)
    }
    return tool


def register(
    server: FastMCP,
    ctx: ToolContext,
    fn: Callable[..., Any],
    annotations: ToolAnnotations = READ_ONLY,
    *,
    title: str | None = None,
) -> None:
    """Add `fn` to `server` under its own name, with its docstring as the model-facing text."""
    server.add_tool(
        bind(fn, ctx),
        name=fn.__name__,
        title=title or fn.__name__.replace("_", " ").capitalize(),
        description=inspect.getdoc(fn),
        annotations=annotations,
    )
