"""Who is calling the API: bearer tokens from the local issuer (default) or from Cognito (at scale).

    Authenticator.verify(token) -> Principal(user, role)
     ├── LocalIssuer      HS256 tokens it issues itself for UserStore logins (POST /v1/token)
     └── CognitoVerifier  RS256 tokens of a Cognito user pool, checked against its JWKS (cached);
                          the role comes from the `cognito:groups` claim

A token's role is a query-policy role (tools/query/policy.yaml); the endpoints run the tools as
that role, so the guard hides from an API caller exactly what it hides from the agent or MCP.
"""

from __future__ import annotations

import logging
import math
import os
import secrets
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any, Final, Protocol

import jwt

from agent.rest.config import ApiSettings, api_dir
from agent.ui.auth import UserStore
from agent.ui.config import ROLES
from core.errors import ConfigError, EncoreError
from core.settings import Settings
from tools.query.policy import load_policy

log = logging.getLogger(__name__)

ISSUER: Final = "encore-local"
AUDIENCE: Final = "encore-api"
_LEEWAY_S: Final = 5  # clock skew between issuer and API


class UnauthorizedError(EncoreError):
    """No token, or one that is expired, forged or not for this API (HTTP 401)."""


class ForbiddenError(EncoreError):
    """A valid caller who may not do this (HTTP 403)."""


class AuthUnavailableError(EncoreError):
    """The identity provider's keys could not be fetched (HTTP 503)."""


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: the audit user name and the query-policy role, and the token's id
    and times, which revocation needs (not part of who the caller is, so not compared)."""

    user: str
    role: str
    token_id: str | None = field(default=None, compare=False)
    issued_at: float = field(default=0.0, compare=False)
    expires_at: float = field(default=0.0, compare=False)


def _principal(user: str, role: str, claims: dict[str, Any]) -> Principal:
    jti = claims.get("jti")
    return Principal(
        user,
        role,
        token_id=str(jti) if jti else None,
        issued_at=float(claims["iat"]),
        expires_at=float(claims["exp"]),
    )


class Authenticator(Protocol):
    """Turns a bearer token into a Principal, or raises UnauthorizedError/ForbiddenError."""

    def verify(self, token: str) -> Principal: ...


def _known_role(role: str) -> str:
    """The role if the query policy defines it; tokens with other roles are refused."""
    if role not in load_policy().roles:
        raise ForbiddenError(f"role {role!r} is not a query-policy role", role=role)
    return role


def ensure_api_secret(settings: Settings) -> str:
    """The HS256 signing secret: created once (0600) under <data_dir>/api, then reused.

    A secret of its own rather than Chainlit's, so a UI session token can never pass as an API
    token (and rotating one does not sign everybody out of the other).
    """
    path = api_dir(settings) / "jwt_secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".jwt_secret.{os.getpid()}.{uuid.uuid4().hex}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
        try:  # a hard link appears whole or not at all: servers starting together agree
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    secret = path.read_text(encoding="utf-8").strip()
    if len(secret) < 32:
        raise ConfigError(f"the API secret in {path} is too short; delete it to make a new one")
    return secret


class LocalIssuer:
    """Issues and verifies short-lived HS256 tokens for local users (agent.ui.auth.UserStore)."""

    def __init__(self, settings: Settings, api: ApiSettings, secret: str | None = None) -> None:
        self.store = UserStore(settings)
        self.ttl_s = api.token_ttl_s
        self._secret = secret or ensure_api_secret(settings)

    def login(self, name: str, password: str) -> tuple[str, Principal]:
        """A token for a user whose password matches; UnauthorizedError otherwise (same message)."""
        user = self.store.authenticate(name, password)
        if user is None:
            raise UnauthorizedError("unknown user or wrong password")
        principal = Principal(user.name, _known_role(user.role))
        return self.issue(principal), principal

    def issue(self, principal: Principal, ttl_s: int | None = None) -> str:
        now = time.time()
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": principal.user,
            "role": principal.role,
            # to the millisecond (RFC 7519 allows fractions): a token signed just after an admin
            # revoked the user's tokens must not fall in the same second as the revocation;
            # rounded down, never into the future (a token of the revoking millisecond counts as
            # revoked rather than escaping it)
            "iat": math.floor(now * 1000) / 1000,
            "exp": int(now) + (self.ttl_s if ttl_s is None else ttl_s),
            "jti": uuid.uuid4().hex,  # what POST /v1/auth/revoke denies
        }
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def current(self, principal: Principal) -> Principal:
        """The caller with the role the user store gives them now, not the one their token was
        issued with; UnauthorizedError once they are removed (whoever removed them, the CLI or not).

        Every entrypoint taking local tokens (the REST API, the AgentCore runtime) checks each
        request with it after `verify`: a token outlives a removal or a role change otherwise.
        """
        user = self.store.user(principal.user)
        if user is None:
            raise UnauthorizedError(
                f"user {principal.user!r} no longer exists, so their tokens are refused; "
                "an admin can add them again (`encore users add`), "
                "then POST /v1/token gives a new one"
            )
        return principal if user.role == principal.role else replace(principal, role=user.role)

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],  # never the token's own choice (no "none", no RS/HS mix)
                audience=AUDIENCE,
                issuer=ISSUER,
                leeway=_LEEWAY_S,
                options={"require": ["exp", "iat", "sub", "iss", "aud", "jti"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise UnauthorizedError(
                "the token has expired; get a new one from POST /v1/token"
            ) from exc
        except jwt.InvalidTokenError as exc:
            raise UnauthorizedError(f"invalid token: {exc}") from exc
        return _principal(str(claims["sub"]), _known_role(str(claims.get("role", ""))), claims)


class CognitoVerifier:
    """Verifies a Cognito user pool's RS256 access or ID tokens against the pool's JWKS."""

    def __init__(self, settings: Settings, api: ApiSettings) -> None:
        if not settings.cognito_user_pool_id:
            raise ConfigError("ENCORE_AUTH=cognito needs ENCORE_COGNITO_USER_POOL_ID")
        pool = settings.cognito_user_pool_id
        region = pool.split("_", 1)[0] if "_" in pool else settings.aws_region
        self.issuer = f"https://cognito-idp.{region}.amazonaws.com/{pool}"
        self.client_id = settings.cognito_app_client_id
        self.group_roles = dict(settings.cognito_group_roles)
        url = settings.cognito_jwks_url or f"{self.issuer}/.well-known/jwks.json"
        # PyJWKClient caches the key set and fetches it again only for an unknown key id
        self.jwks = jwt.PyJWKClient(url, cache_keys=True, lifespan=api.jwks_cache_s, timeout=5)

    def verify(self, token: str) -> Principal:
        try:
            key = self.jwks.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as exc:
            raise AuthUnavailableError(f"cannot fetch Cognito's signing keys: {exc}") from exc
        except (jwt.PyJWKClientError, jwt.DecodeError) as exc:
            raise UnauthorizedError(f"invalid token: {exc}") from exc
        try:
            # Cognito access tokens carry no `aud` (the client is `client_id`): checked below
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                issuer=self.issuer,
                leeway=_LEEWAY_S,
                options={"require": ["exp", "iat", "sub", "iss"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError as exc:
            raise UnauthorizedError("the token has expired; sign in to Cognito again") from exc
        except jwt.InvalidTokenError as exc:
            raise UnauthorizedError(f"invalid token: {exc}") from exc
        self._check_client(claims)
        user = claims.get("username") or claims.get("cognito:username") or claims["sub"]
        return _principal(str(user), self._role(claims.get("cognito:groups") or []), claims)

    def _check_client(self, claims: dict[str, Any]) -> None:
        use = claims.get("token_use")
        if use not in ("access", "id"):
            raise UnauthorizedError(f"invalid token: token_use must be access or id; got {use!r}")
        client = claims.get("client_id") if use == "access" else claims.get("aud")
        if self.client_id and client != self.client_id:
            raise UnauthorizedError("invalid token: issued to another app client")

    def _role(self, groups: list[str]) -> str:
        """The most privileged role among the caller's groups (mapped, or named like a role)."""
        roles = {self.group_roles.get(g, g) for g in groups if isinstance(g, str)}
        ranked = [r for r in ROLES if r in roles]
        if not ranked:
            raise ForbiddenError(
                "the Cognito user is in no group that grants a role; add them to one of "
                f"{', '.join(ROLES)} (or map a group with ENCORE_COGNITO_GROUP_ROLES)",
                groups=groups,
            )
        return _known_role(ranked[-1])


def build_authenticator(settings: Settings, api: ApiSettings) -> LocalIssuer | CognitoVerifier:
    """The authenticator ENCORE_AUTH selects."""
    if settings.auth == "cognito":
        return CognitoVerifier(settings, api)
    return LocalIssuer(settings, api)
