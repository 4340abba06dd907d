"""UI options, read from `ENCORE_UI_*` by the entrypoint (chainlit_app.py) and the launcher."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.settings import Settings

ROLES: Final = ("partner", "analyst", "admin")
"""The query policy's roles (tools/query/policy.yaml), least to most privileged; a user may
pick a role up to their own in chat settings."""


def allowed_role(wanted: str, granted: str) -> str:
    """`wanted` if it is known and not above `granted`, else `granted`."""
    if wanted in ROLES and granted in ROLES and ROLES.index(wanted) <= ROLES.index(granted):
        return wanted
    return granted


class UiSettings(BaseSettings):
    """How the chat UI authenticates and which agent it drives."""

    model_config = SettingsConfigDict(env_prefix="ENCORE_UI_", env_file=".env", extra="ignore")

    header_auth: bool = Field(
        False, description="trust the user named in `header_user` (only behind an auth proxy)"
    )
    header_user: str = Field("x-forwarded-user", description="header carrying the user id")
    header_role: str = Field("x-forwarded-role", description="header carrying the role, optional")
    agent: str = Field(
        "agent.service:AgentService.create",
        description="module:callable building the agent service (a seam for scripted tests)",
    )
    demo_user: str = Field("demo", description="the local user created on first launch")


def ui_dir(settings: Settings) -> Path:
    """Where the UI keeps users, the JWT secret, chat history and uploads."""
    return settings.data_dir / "ui"


def history_db(settings: Settings) -> Path:
    """The SQLite file holding Chainlit's threads, steps and elements."""
    return ui_dir(settings) / "history.sqlite"


def uploads_dir(settings: Settings) -> Path:
    """Uploads are copied here first (ingestion reads only under the data dir)."""
    return settings.data_dir / "uploads"
