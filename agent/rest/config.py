"""REST API options from `ENCORE_API_*`, read by the entrypoint (the auth mode is in Settings)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.settings import Settings


class ApiSettings(BaseSettings):
    """Token lifetime, per-user rate limits, request size and concurrency limits of
    `encore serve api`."""

    model_config = SettingsConfigDict(env_prefix="ENCORE_API_", env_file=".env", extra="ignore")

    token_ttl_s: int = Field(900, ge=30, le=86_400, description="lifetime of a local token")
    rate_per_s: float = Field(5.0, gt=0, description="requests per second a user may sustain")
    rate_burst: int = Field(20, ge=1, description="requests a user may send at once")
    login_per_min: float = Field(
        10.0,
        gt=0,
        description="password attempts per minute per address and name; rejected tokens per "
        "minute per address",
    )
    max_body_bytes: int = Field(64 * 1024, ge=1024, description="largest request body accepted")
    # below the 40 threads FastAPI runs endpoints on: an admitted request never waits for one
    max_in_flight: int = Field(
        32,
        ge=1,
        description="requests one server process works on at once; more are refused with 503 "
        "and Retry-After instead of queueing (liveness /health is always answered)",
    )
    jwks_cache_s: int = Field(3600, ge=60, description="how long Cognito's signing keys are kept")


def api_dir(settings: Settings) -> Path:
    """Where the API keeps its token-signing secret (apart from the UI's Chainlit secret)."""
    return settings.data_dir / "api"
