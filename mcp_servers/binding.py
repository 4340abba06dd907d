"""Turn a `tools/` function into an MCP tool: the ToolContext bound, the rest of the signature kept.

A tool function looks like `fn(ctx: ToolContext, *, arg: T, ...) -> Model`. FastMCP reads a
tool's input schema from its signature and its output schema from the return annotation, so the
wrapper shows FastMCP the signature without `ctx`, with annotations resolved. The call runs in a
worker thread: tools do blocking I/O (DuckDB, HTTP) and must not stall the server's event loop.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any

import anyio.to_thread
from mcp.server.fastmcp import FastMCP
from mcp.types import ToolAnnotations

from tools.context import ToolContext

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


def bind(fn: Callable[..., Any], ctx: ToolContext) -> Callable[..., Any]:
    """An async callable with `fn`'s signature minus its first (ToolContext) parameter."""
    hints = typing.get_type_hints(fn)
    signature = inspect.signature(fn)
    params = [
        p.replace(annotation=hints.get(p.name, p.annotation))
        for p in list(signature.parameters.values())[1:]
    ]

    @functools.wraps(fn)
    async def tool(**kwargs: Any) -> Any:
        return await anyio.to_thread.run_sync(functools.partial(fn, ctx, **kwargs))

    del tool.__wrapped__  # FastMCP must see the signature below, not fn's
    tool.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=params, return_annotation=hints.get("return", signature.return_annotation)
    )
    tool.__annotations__ = {p.name: p.annotation for p in params} | {
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
