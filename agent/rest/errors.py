"""Errors as JSON `{error, detail}` with the right status; never a traceback to the client.

UnauthorizedError 401 · ForbiddenError, QueryRefusedError 403 · unknown artist/venue/fan/user 404
ValidationError, request validation 422 · rate limit 429 · AuthUnavailableError, ModelNotTrained,
ConfigError, WarehouseError, too many requests in flight (limits.py) 503 · QueryTimeoutError 504
AwsError 502 · other EncoreError 500
"""

from __future__ import annotations

import logging
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from agent.rest.auth import AuthUnavailableError, ForbiddenError, UnauthorizedError
from core.errors import (
    AwsError,
    ConfigError,
    EncoreError,
    QueryRefusedError,
    ValidationError,
    WarehouseError,
)
from models.registry import ModelNotTrainedError
from tools.query.runner import QueryTimeoutError

log = logging.getLogger(__name__)

_NOT_FOUND_FIELDS: Final = frozenset({"artist", "venue", "fan_id", "user"})
"""ValidationErrors on these fields mean the named thing does not exist (404, not 422)."""

# most specific first: QueryTimeoutError is a QueryRefusedError
_STATUS: Final[tuple[tuple[type[EncoreError], int, str], ...]] = (
    (UnauthorizedError, 401, "unauthorized"),
    (ForbiddenError, 403, "forbidden"),
    (QueryTimeoutError, 504, "query timed out"),
    (QueryRefusedError, 403, "query refused"),
    (ValidationError, 422, "invalid request"),
    (AuthUnavailableError, 503, "identity provider unavailable"),
    (ModelNotTrainedError, 503, "model not trained"),
    (ConfigError, 503, "not configured"),
    (WarehouseError, 503, "warehouse unavailable"),
    (AwsError, 502, "AWS call failed"),
)


class ErrorBody(BaseModel):
    """Every error response: a short kind, what to change, and close names when there are any."""

    error: str = Field(description="the kind of error, e.g. 'not found', 'invalid request'")
    detail: str | list[dict[str, Any]] = Field(
        description="what went wrong and what to change; for invalid input, one item per field"
    )
    suggestions: list[str] | None = Field(None, description="close names for an unknown name")


def error_response(
    status: int, error: str, detail: Any, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = ErrorBody(error=error, detail=detail, **extra).model_dump(exclude_none=True)
    return JSONResponse(body, status_code=status, headers=headers)


def _encore_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, EncoreError)
    status, error = 500, "internal error"
    for cls, code, label in _STATUS:
        if isinstance(exc, cls):
            status, error = code, label
            break
    if isinstance(exc, ValidationError) and exc.detail.get("field") in _NOT_FOUND_FIELDS:
        status, error = 404, "not found"
    if status >= 500:
        log.warning("%s %s: %s (%s)", request.method, request.url.path, exc, type(exc).__name__)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    suggestions = exc.detail.get("suggestions")
    return error_response(
        status, error, exc.message, headers, suggestions=list(suggestions) if suggestions else None
    )


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc if part != "body") or "body"


def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    items = [{"field": _field(e["loc"]), "message": e["msg"]} for e in exc.errors()]
    return error_response(422, "invalid request", items)


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    error = {404: "not found", 405: "method not allowed", 429: "too many requests"}.get(
        exc.status_code, "error"
    )
    return error_response(exc.status_code, error, str(exc.detail), dict(exc.headers or {}))


def install(app: FastAPI) -> None:
    """Register the handlers above on `app`."""
    app.add_exception_handler(EncoreError, _encore_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(HTTPException, _http_error)


ERROR_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {
        401: "missing, expired or invalid bearer token",
        403: "the caller's role may not do this",
        404: "an unknown artist, venue or fan (with close names)",
        422: "invalid input, one item per field",
        429: "rate limit reached; wait Retry-After seconds",
        503: "a model or the warehouse is not ready, or the server is at its limit of "
        "requests in flight (wait Retry-After seconds)",
    }.items()
}
"""What OpenAPI lists for every authenticated endpoint (replacing FastAPI's own 422 shape)."""
