"""The REST API over the insight tools (requirement 3.4): FastAPI, versioned under /v1.

    POST /v1/token                            name+password -> bearer token (local auth only)
    POST /v1/auth/revoke                      sign out: the bearer token is refused from now on
    POST /v1/users/{name}/revoke-tokens       admin: every token the user holds is refused
    GET  /v1/me                               who the token says you are
    GET  /v1/venues/rankings                  venue_ranking
    GET  /v1/predictions/ticket-sales         predict_ticket_sales (one pair)
    POST /v1/predictions/ticket-sales         predict_ticket_sales_batch
    GET  /v1/recommendations/concerts         recommend_concerts (fan id or stated tastes)
    GET  /v1/recommendations/similar-artists  similar_artists
    GET  /v1/recommendations/venues           venues_for_artist
    GET  /v1/artists/history                  artist_profile
    POST /v1/query                            semantic_query (the guard, as the token's role)
    GET  /v1/query/catalog                    semantic_catalog
    GET  /health                              liveness and the forecaster's warm-up, no token

An entrypoint beside the AgentCore runtime: it calls `tools/` directly, never the agent. The
endpoints are plain `def`s, so FastAPI runs the blocking tools (DuckDB, scikit-learn) on its
thread pool and the event loop stays free. The forecaster warms in a background thread as the
app starts (warmup.py): the first forecast does not load the model, and startup does not wait.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import date as Date  # noqa: N812 - `date` is a query parameter's name
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, Field

from agent.rest import errors
from agent.rest.auth import (
    CognitoVerifier,
    ForbiddenError,
    LocalIssuer,
    Principal,
    UnauthorizedError,
    build_authenticator,
)
from agent.rest.config import ApiSettings, api_dir
from agent.rest.limits import (
    AccessLogMiddleware,
    BodyLimitMiddleware,
    ConcurrencyLimitMiddleware,
    RateLimiter,
    open_buckets,
    retry_after,
)
from agent.rest.revocation import Denylist
from agent.rest.warmup import WarmState, Warmup
from core.errors import ValidationError
from core.settings import Settings
from core.warehouse import share_readers
from models.recommend import NEAR_KM
from tools.context import ToolContext
from tools.insights import forecast, profile, ranking, recommend
from tools.query import semantic_catalog, semantic_query
from tools.query.catalog import SemanticCatalog
from tools.query.guard import withheld_note
from tools.query.policy import load_policy
from tools.query.semantic_model import Coverage, SemanticQuery
from tools.results import QueryResult

log = logging.getLogger(__name__)

CapacityBand = Literal["small", "mid", "large", "xl"]
VenueType = Literal["arena", "stadium", "theater", "club", "amphitheater", "outdoor"]
Limit = Annotated[int, Query(ge=1, le=100, description="how many items at most")]
ArtistName = Annotated[str, Query(min_length=1, max_length=200, description="name or artist id")]
Place = Annotated[str | None, Query(max_length=100)]


class TokenResponse(BaseModel):
    """A bearer token for the other endpoints (OAuth2 password-grant shape)."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the scheme, not a secret
    expires_in: int = Field(description="seconds until the token expires")
    role: str = Field(description="the query-policy role the token carries")


class QueryAnswer(QueryResult):
    """A semantic query's rows with the SQL that ran and what the caller's role leaves out."""

    note: str | None = Field(
        None,
        description="what the query guard withholds from these rows for the token's role, e.g. "
        "'ticket_sales groups of fewer than 10 rows are withheld for role partner'; "
        "null when nothing is",
    )
    coverage: Coverage | None = Field(
        None,
        description="how much of the scope the ticket transactions behind these rows cover "
        "(channel, price tier, fans...), with a sentence to show; null when they cover it all or "
        "the rows come from concert results",
    )


class Me(BaseModel):
    user: str
    role: str


class TokenRevoked(BaseModel):
    """The bearer token is refused from now on, by every API process, until it expires."""

    user: str
    token_id: str = Field(description="the token's jti")
    expires_at: datetime = Field(description="when the token would have expired")


class UserTokensRevoked(BaseModel):
    """Every token of the user issued up to `issued_up_to` is refused; new sign-ins still work."""

    user: str
    issued_up_to: datetime


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str
    auth: Literal["local", "cognito"]
    forecaster: WarmState = Field(
        description="the forecaster's warm-up: 'warming' just after the start (a forecast then "
        "waits for it), 'warm' once loaded, 'untrained' when no model exists yet (the first "
        "forecast trains one), 'failed' when it could not load (forecasts load it themselves)"
    )


class PredictionItem(BaseModel):
    """One artist–venue–date pair to forecast."""

    artist: str = Field(min_length=1, max_length=200)
    venue: str = Field(min_length=1, max_length=200)
    date: Date
    price: float | None = Field(None, ge=0, description="average ticket price in dollars")


class PredictionBatch(BaseModel):
    items: list[PredictionItem] = Field(min_length=1, max_length=500)


def _version() -> str:
    try:
        return version("encore")
    except PackageNotFoundError:
        return "dev"


_bearer = HTTPBearer(auto_error=False, description="a token from POST /v1/token or Cognito")


@dataclass(frozen=True)
class _Runtime:
    """What the endpoints share, kept on `app.state.runtime`."""

    settings: Settings
    api: ApiSettings
    authenticator: LocalIssuer | CognitoVerifier
    denylist: Denylist
    limiter: RateLimiter
    logins: RateLimiter
    rejected: RateLimiter
    warmup: Warmup


def authenticated(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller of a valid, unrevoked bearer token who is still a user (not yet rate-limited);
    a local caller's role is the one the user store gives them now."""
    runtime: _Runtime = request.app.state.runtime
    if credentials is None:
        raise UnauthorizedError("send Authorization: Bearer <token> (POST /v1/token gives one)")
    # rejected tokens are limited per address: each one with an unknown key id would otherwise
    # make the Cognito verifier fetch the JWKS again
    address = request.client.host if request.client else "-"
    wait = runtime.rejected.wait(address)
    if wait:
        raise HTTPException(
            429, "too many rejected tokens", headers={"Retry-After": retry_after(wait)}
        )
    try:
        principal = runtime.authenticator.verify(credentials.credentials)
        if runtime.denylist.is_revoked(principal.token_id, principal.user, principal.issued_at):
            raise UnauthorizedError(_REVOKED[runtime.settings.auth])
        if isinstance(runtime.authenticator, LocalIssuer):
            principal = runtime.authenticator.current(principal)
    except UnauthorizedError:
        runtime.rejected.acquire(address)
        raise
    request.state.user = principal.user
    return principal


def caller(
    request: Request, principal: Annotated[Principal, Depends(authenticated)]
) -> ToolContext:
    """The tool context of the authenticated, rate-limited caller."""
    runtime: _Runtime = request.app.state.runtime
    wait = runtime.limiter.acquire(principal.user)
    if wait:
        raise HTTPException(
            429,
            f"rate limit of {runtime.api.rate_per_s:g} requests/s (bursts of "
            f"{runtime.api.rate_burst}) reached; retry in {wait:.1f} s",
            headers={"Retry-After": retry_after(wait)},
        )
    return ToolContext(settings=runtime.settings, user=principal.user, role=principal.role)


Caller = Annotated[ToolContext, Depends(caller)]

_REVOKED: dict[str, str] = {
    "local": "the token was revoked; get a new one from POST /v1/token",
    "cognito": "the token was revoked; sign in to Cognito again",
}


def create_app(settings: Settings | None = None, api: ApiSettings | None = None) -> FastAPI:
    """The API app: auth from `settings.auth`, limits from `api` (ENCORE_API_*)."""
    settings = settings or Settings()
    api = api or ApiSettings()
    authenticator = build_authenticator(settings, api)
    per_minute = (api.login_per_min / 60, max(1, int(api.login_per_min)))
    # limits and revocations live in files under the data dir: every process serving it shares them
    buckets = open_buckets(api_dir(settings) / "ratelimits.sqlite")
    runtime = _Runtime(
        settings=settings,
        api=api,
        authenticator=authenticator,
        denylist=Denylist(api_dir(settings) / "revoked.sqlite"),
        limiter=RateLimiter(buckets, "user", api.rate_per_s, api.rate_burst),
        logins=RateLimiter(buckets, "login", *per_minute),
        rejected=RateLimiter(buckets, "rejected", *per_minute),
        warmup=Warmup(settings),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        runtime.warmup.start()  # a thread: the server accepts connections while it runs
        yield

    # /docs and /redoc with Swagger UI's and ReDoc's files served from the installed package
    # (FastAPI's own pages load them from a CDN and stay blank offline); no online validator
    app = FastAPIOffline(
        title="Encore API",
        version=_version(),
        description="Concert insights: venue rankings, ticket-sales forecasts with confidence, "
        "recommendations, artist history and governed semantic queries.",
        swagger_ui_parameters={"validatorUrl": None},
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    errors.install(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=api.max_body_bytes)
    # before any other work (auth, body, thread pool): an overloaded server refuses cheaply
    app.add_middleware(
        ConcurrencyLimitMiddleware, max_in_flight=api.max_in_flight, exempt=frozenset({"/health"})
    )
    app.add_middleware(AccessLogMiddleware)  # added last: outermost, sees every response
    v1 = APIRouter(prefix="/v1", responses=errors.ERROR_RESPONSES)

    @app.get("/health", tags=["meta"])
    def health() -> Health:
        """Liveness and whether the forecaster is warm yet; needs no token."""
        return Health(version=app.version, auth=settings.auth, forecaster=runtime.warmup.state)

    if isinstance(authenticator, LocalIssuer):
        issuer = authenticator

        @v1.post("/token", tags=["auth"])
        def token(
            request: Request,
            username: Annotated[str, Form(min_length=1, max_length=200)],
            password: Annotated[str, Form(min_length=1, max_length=1024)],
        ) -> TokenResponse:
            """Exchange a local user's name and password for a short-lived bearer token."""
            client = request.client.host if request.client else "-"
            wait = runtime.logins.acquire(f"{client}|{username}")
            if wait:  # slows password guessing; scrypt makes each guess cost ~50 ms as well
                raise HTTPException(
                    429, "too many sign-in attempts", headers={"Retry-After": retry_after(wait)}
                )
            request.state.user = username
            access_token, principal = issuer.login(username, password)
            log.info("token issued to %s (%s)", principal.user, principal.role)
            return TokenResponse(
                access_token=access_token, expires_in=issuer.ttl_s, role=principal.role
            )

    @v1.get("/me", tags=["auth"])
    def me(ctx: Caller) -> Me:
        """The token's user and their role in the user store now (an admin may have changed it)."""
        return Me(user=ctx.user, role=ctx.role)

    # not rate-limited: a user at their limit can still sign out, and a token revokes only once
    @v1.post("/auth/revoke", tags=["auth"])
    def revoke(principal: Annotated[Principal, Depends(authenticated)]) -> TokenRevoked:
        """Sign out: the bearer token is refused from now on (every API process, across
        restarts) instead of staying valid until it expires."""
        if principal.token_id is None:
            raise ValidationError("the token has no jti, so it cannot be revoked on its own")
        runtime.denylist.revoke_token(principal.token_id, principal.user, principal.expires_at)
        log.info("token %s of %s revoked", principal.token_id, principal.user)
        return TokenRevoked(
            user=principal.user,
            token_id=principal.token_id,
            expires_at=datetime.fromtimestamp(principal.expires_at, UTC),
        )

    @v1.post("/users/{name}/revoke-tokens", tags=["auth"])
    def revoke_user_tokens(
        ctx: Caller, name: Annotated[str, Path(min_length=1, max_length=200)]
    ) -> UserTokensRevoked:
        """Admins only: refuse every token the user was issued until now (a lost laptop, a
        changed role). The user can still sign in again; change or remove their password in
        the user store to keep them out."""
        if ctx.role != "admin":
            raise ForbiddenError(
                f"only admins may revoke another user's tokens; your role is {ctx.role}"
            )
        if isinstance(authenticator, LocalIssuer) and name not in authenticator.store.names():
            raise ValidationError(f"no local user named {name!r}", field="user")
        issued_up_to = runtime.denylist.revoke_user(name)
        log.info("all tokens of %s issued up to %.3f revoked by %s", name, issued_up_to, ctx.user)
        return UserTokensRevoked(user=name, issued_up_to=datetime.fromtimestamp(issued_up_to, UTC))

    @v1.get("/venues/rankings", tags=["insights"])
    def venue_rankings(
        ctx: Caller,
        city: Place = None,
        state: Annotated[str | None, Query(max_length=50, description='e.g. "CA"')] = None,
        genre: Annotated[str | None, Query(max_length=50)] = None,
        capacity_band: Annotated[
            CapacityBand | None, Query(description="small <2k, mid 2k-8k, large 8k-20k, xl 20k+")
        ] = None,
        venue_type: VenueType | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 10,
    ) -> ranking.VenueRanking:
        """Venues by popularity score (0-100) with the factors behind it, filtered."""
        return ranking.venue_ranking(
            ctx, city=city, state=state, genre=genre, capacity_band=capacity_band,
            venue_type=venue_type, limit=limit,
        )  # fmt: skip

    @v1.get("/predictions/ticket-sales", tags=["insights"])
    def predict_ticket_sales(
        ctx: Caller,
        artist: ArtistName,
        venue: Annotated[str, Query(min_length=1, max_length=200, description="name or id")],
        date: Annotated[Date, Query(description="event date, YYYY-MM-DD")],
        price: Annotated[float | None, Query(ge=0, description="average ticket price")] = None,
    ) -> forecast.SalesPrediction:
        """Tickets and gross for an artist at a venue on a date: estimate, 80% interval,
        confidence (chance of landing within ±20%) and low_confidence when below 0.70."""
        runtime.warmup.wait()  # an early request shares the start's warm-up, never loads twice
        return forecast.predict_ticket_sales(
            ctx, artist=artist, venue=venue, date=date.isoformat(), price=price
        )

    @v1.post("/predictions/ticket-sales", tags=["insights"])
    def predict_ticket_sales_batch(ctx: Caller, body: PredictionBatch) -> forecast.SalesPredictions:
        """Forecasts for up to 500 artist–venue–date pairs at once."""
        runtime.warmup.wait()
        items: list[forecast.PredictionRequest | dict[str, Any]] = [
            forecast.PredictionRequest(
                artist=i.artist, venue=i.venue, date=i.date.isoformat(), price=i.price
            )
            for i in body.items
        ]
        return forecast.predict_ticket_sales_batch(ctx, items=items)

    @v1.get("/recommendations/concerts", tags=["recommendations"])
    def recommend_concerts(
        ctx: Caller,
        fan_id: Annotated[str | None, Query(max_length=50, description="a fan id")] = None,
        genres: Annotated[list[str] | None, Query(max_length=20)] = None,
        artists: Annotated[list[str] | None, Query(max_length=20)] = None,
        city: Place = None,
        state: Annotated[str | None, Query(max_length=50)] = None,
        budget: Annotated[float | None, Query(ge=0, description="max lowest price")] = None,
        date_from: Date | None = None,
        date_to: Date | None = None,
        limit: Limit = 10,
    ) -> recommend.ConcertRecommendations:
        """Upcoming concerts for a fan (by purchase history) and/or stated tastes and place.
        By fan id only for roles the query policy lets see fans by id (403 otherwise)."""
        return recommend.recommend_concerts(
            ctx, fan_id=fan_id, genres=genres, artists=artists, city=city, state=state,
            budget=budget, date_from=_iso(date_from), date_to=_iso(date_to), limit=limit,
        )  # fmt: skip

    @v1.get("/recommendations/similar-artists", tags=["recommendations"])
    def similar_artists(
        ctx: Caller, artist: ArtistName, limit: Limit = 10
    ) -> recommend.SimilarArtists:
        """Artists like one: shared ticket buyers, genre, popularity, shared venues."""
        return recommend.similar_artists(ctx, artist=artist, limit=limit)

    @v1.get("/recommendations/venues", tags=["recommendations"])
    def venues_for_artist(
        ctx: Caller,
        artist: ArtistName,
        city: Place = None,
        state: Annotated[str | None, Query(max_length=50)] = None,
        near: Annotated[
            str | None, Query(max_length=100, description="a city: venues within within_km of it")
        ] = None,
        within_km: Annotated[
            float, Query(gt=0, description="how far from `near`, in km")
        ] = NEAR_KM,
        limit: Limit = 10,
    ) -> recommend.VenuesForArtist:
        """Venues that fit an artist's draw and markets, optionally in one city or state, or
        near a city (each with its distance)."""
        return recommend.venues_for_artist(
            ctx, artist=artist, city=city, state=state, near=near, within_km=within_km,
            limit=limit,
        )  # fmt: skip

    @v1.get("/artists/history", tags=["insights"])
    def artist_history(ctx: Caller, artist: ArtistName) -> profile.ArtistProfile:
        """An artist's performance history, summary, top venues, genre standing and upcoming."""
        return profile.artist_profile(ctx, artist=artist)

    @v1.post("/query", tags=["query"])
    def query(ctx: Caller, body: SemanticQuery) -> QueryAnswer:
        """Measures by dimensions, checked by the query guard for the token's role; the SQL
        that ran comes back with the rows, `note` says which small groups the role's privacy
        rule left out and `coverage` how much the ticket transactions read cover. GET
        /v1/query/catalog lists the names."""
        result = semantic_query(
            ctx, measures=body.measures, dimensions=body.dimensions, filters=body.filters,
            time_range=body.time_range, order_by=body.order_by, limit=body.limit,
        )  # fmt: skip
        note = withheld_note(load_policy().role(ctx.role), result.sql)
        # built without validation: the guard's rows were validated once already
        return QueryAnswer.model_construct(
            columns=result.columns, rows=result.rows, sql=result.sql,
            row_count=result.row_count, truncated=result.truncated, note=note or None,
            coverage=result.coverage,
        )  # fmt: skip

    @v1.get("/query/catalog", tags=["query"])
    def query_catalog(ctx: Caller) -> SemanticCatalog:
        """The measures and dimensions POST /v1/query understands."""
        return semantic_catalog(ctx)

    app.include_router(v1)
    return app


def _iso(day: Date | None) -> str | None:
    return day.isoformat() if day else None


def worker_app() -> FastAPI:
    """The app of one server process, with the request log on (`serve` in server.py builds it;
    uvicorn's workers call it as the factory)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # `encore` configures the root at WARNING without -v; the request log is a server's point
    logging.getLogger("agent.rest").setLevel(logging.INFO)
    # as the MCP servers do: requests borrow one open warehouse instead of opening it each time
    # (rankings p50 65 -> 24 ms); it closes when idle, and a load in this process closes it first
    share_readers()
    return create_app()
