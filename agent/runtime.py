"""The AgentCore runtime entrypoint: `POST /invocations`, `GET /ping` (BedrockAgentCoreApp).

    POST /invocations {"prompt": "...", "stream"?: true}   [Authorization: Bearer <token>]
      -> the TurnResult JSON, or (stream) SSE events: text, tool_started, tool_finished, done

Who the turn is for (memory owner, audit user, governance role), first match wins:
1. `Authorization: Bearer <token>`: the token's subject and role, verified as the REST API does
   (`ENCORE_AUTH=local`: a token from POST /v1/token; `cognito`: the user pool's, whose
   `cognito:groups` give the role) and checked against revoked tokens. A local token is also
   checked against the user store on every call, as REST does: a removed user's is refused (401)
   and a changed role applies from the next turn. Deployed behind the runtime's
   customJWTAuthorizer (agentcore.yaml), the runtime has verified it already and forwards the
   header (its request-header allowlist); the body's `user` is ignored.
2. No token and `ENCORE_RUNTIME_REQUIRE_TOKEN=true` (set it when deployed): 401.
3. No token: ENCORE_USER with ENCORE_ROLE, as `encore ask` runs; the body's `user` only with
   `ENCORE_RUNTIME_BODY_USER=true`, for local development where every caller is trusted.

The runtime's session header (X-Amzn-Bedrock-AgentCore-Runtime-Session-Id, `context.session_id`)
selects the conversation and its memory session; one AgentService is kept per (user, role,
session). Run locally with `encore serve agentcore --port 8080` or `python -m agent.runtime`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import Any

from bedrock_agentcore.runtime import BedrockAgentCoreApp, PingStatus, RequestContext
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.responses import JSONResponse
from strands.models import Model

from agent.config import AgentSettings
from agent.rest.auth import (
    AuthUnavailableError,
    CognitoVerifier,
    ForbiddenError,
    LocalIssuer,
    Principal,
    UnauthorizedError,
    build_authenticator,
)
from agent.rest.config import ApiSettings, api_dir
from agent.rest.revocation import Denylist
from agent.service import AgentService
from core.errors import EncoreError
from core.settings import Settings

log = logging.getLogger(__name__)
MAX_SESSIONS = 256


class RuntimeSettings(BaseSettings):
    """How the runtime decides who a caller is (`ENCORE_RUNTIME_*`)."""

    model_config = SettingsConfigDict(env_prefix="ENCORE_RUNTIME_", env_file=".env", extra="ignore")

    require_token: bool = Field(
        False, description="refuse invocations without a bearer token (set it when deployed)"
    )
    body_user: bool = Field(
        False,
        description="local development only: an invocation without a token may name its user "
        "in the body's `user`; off, it acts as ENCORE_USER",
    )


def _refused(status: int, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class Runtime:
    """The app and the sessions it serves."""

    def __init__(
        self,
        settings: Settings,
        agent_settings: AgentSettings,
        model_factory: Callable[[], Model] | None = None,
        runtime_settings: RuntimeSettings | None = None,
    ) -> None:
        self.settings = settings
        self.model_factory = model_factory
        self.agent_settings = agent_settings
        self.runtime_settings = runtime_settings or RuntimeSettings()
        self.sessions: OrderedDict[tuple[str, str, str], AgentService] = OrderedDict()
        self.locks: dict[tuple[str, str, str], asyncio.Lock] = {}
        self._authenticator: LocalIssuer | CognitoVerifier | None = None
        self._auth_lock = threading.Lock()
        self._sessions_lock = threading.Lock()  # services are made on worker threads
        self.turns = 0  # running now: /ping says HealthyBusy while any runs
        self.app = BedrockAgentCoreApp()
        self.app.entrypoint(self.invoke)
        self.app.ping(self.ping)

    def ping(self) -> PingStatus:
        return PingStatus.HEALTHY_BUSY if self.turns else PingStatus.HEALTHY

    def _verify(self, token: str) -> Principal:
        """The caller a bearer token names (the REST API's verifier and revocation list)."""
        with self._auth_lock:  # built on first use: a runtime without tokens needs no secret
            if self._authenticator is None:
                self._authenticator = build_authenticator(self.settings, ApiSettings())
            authenticator = self._authenticator
        principal = authenticator.verify(token)
        denylist = Denylist(api_dir(self.settings) / "revoked.sqlite")
        if denylist.is_revoked(principal.token_id, principal.user, principal.issued_at):
            raise UnauthorizedError("the token was revoked; get a new one")
        if isinstance(authenticator, LocalIssuer):  # the REST API's check: gone -> 401, role now
            return authenticator.current(principal)
        # a Cognito token's user is not in the local user store: the pool says who exists and
        # its groups give the role, so the verified token stands as it is
        return principal

    async def _caller(
        self, payload: dict[str, Any], context: RequestContext
    ) -> tuple[str, str] | JSONResponse:
        """(user, role) the turn runs for, or the response refusing the caller."""
        headers = context.request_headers or {}
        authorization = headers.get("Authorization", "")
        claimed = payload.get("user")
        if authorization:
            scheme, _, token = authorization.strip().partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return _refused(401, "the Authorization header must be `Bearer <token>`")
            try:
                principal = await asyncio.to_thread(self._verify, token.strip())
            except UnauthorizedError as exc:
                return _refused(401, str(exc))
            except ForbiddenError as exc:
                return _refused(403, str(exc))
            except AuthUnavailableError as exc:
                return _refused(503, str(exc))
            if claimed and claimed != principal.user:
                log.warning("ignored body user %r: the token is %s's", claimed, principal.user)
            return principal.user, principal.role
        if self.runtime_settings.require_token:
            return _refused(
                401, "send `Authorization: Bearer <token>` (ENCORE_RUNTIME_REQUIRE_TOKEN is on)"
            )
        if claimed and self.runtime_settings.body_user:
            return str(claimed), self.agent_settings.role
        return self.agent_settings.user, self.agent_settings.role

    def _service(self, user: str, role: str, session: str | None) -> AgentService:
        key = (user, role, session or "")
        with self._sessions_lock:
            if session and key in self.sessions:
                self.sessions.move_to_end(key)
                return self.sessions[key]
        service = AgentService.create(
            self.settings,
            user=user,
            session=session,
            role=role,
            model=self.model_factory() if self.model_factory else None,
            agent_settings=self.agent_settings,
        )
        if not session:
            return service
        done: list[AgentService] = []
        with self._sessions_lock:
            kept = self.sessions.setdefault(key, service)  # a racing twin's, if it came first
            if len(self.sessions) > MAX_SESSIONS:  # the least recently used conversation goes
                done.append(self.sessions.popitem(last=False)[1])
        if kept is not service:
            done.append(service)
        for old in done:
            old.agent.cleanup()
        return kept

    async def invoke(self, payload: dict[str, Any], context: RequestContext) -> Any:
        """Answer `payload["prompt"]` in the session the runtime header names."""
        prompt = str(payload.get("prompt") or "").strip()
        if not prompt:
            return {"error": 'send {"prompt": "your question"}'}
        caller = await self._caller(payload, context)
        if isinstance(caller, JSONResponse):
            return caller
        user, role = caller
        self.turns += 1
        try:
            try:
                # a new user's MCP server takes seconds to start: off the loop all sessions share
                service = await asyncio.to_thread(self._service, user, role, context.session_id)
            except EncoreError as exc:
                return {"error": str(exc)}
            lock = self.locks.setdefault((user, role, service.session), asyncio.Lock())
            if payload.get("stream"):
                return self._stream(service, prompt, lock)
            async with lock:  # one turn at a time per conversation
                result = await service.ask(prompt)
            return result.model_dump(mode="json")
        finally:
            self.turns -= 1

    async def _stream(
        self, service: AgentService, prompt: str, lock: asyncio.Lock
    ) -> AsyncIterator[dict[str, Any]]:
        # counted from the first event asked for: a stream nobody reads never runs its finally,
        # and would leave /ping busy for good
        self.turns += 1
        try:
            async with lock:
                async for event in service.stream(prompt):
                    yield event.model_dump(mode="json")
        finally:
            self.turns -= 1


def create_app(
    settings: Settings | None = None,
    agent_settings: AgentSettings | None = None,
    model_factory: Callable[[], Model] | None = None,
    runtime_settings: RuntimeSettings | None = None,
) -> BedrockAgentCoreApp:
    """The BedrockAgentCoreApp serving Encore's agent (`model_factory`: a model per session)."""
    runtime = Runtime(
        settings or Settings(), agent_settings or AgentSettings(), model_factory, runtime_settings
    )
    return runtime.app


def serve(port: int = 8080, host: str = "127.0.0.1") -> None:
    """Serve the runtime (loopback by default; containers pass host=0.0.0.0)."""
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    create_app().run(port=port, host=host)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    serve(int(os.environ.get("PORT", "8080")), os.environ.get("HOST", "127.0.0.1"))
