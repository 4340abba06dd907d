"""Agent-only settings (`ENCORE_` prefix), beside `core.settings.Settings` (not ours to edit).

    ENCORE_MODEL=offline | bedrock:<id> | anthropic:<model> | openai:<model> | ollama:<model>
    ENCORE_ROLE, ENCORE_USER           who the agent acts for (governance role, audit user)
    ENCORE_MCP_URL                      streamable-HTTP MCP server to use instead of a subprocess
    ENCORE_TRACES=none|console|file:PATH|otlp
    ENCORE_MEMORY=local|agentcore, ENCORE_MEMORY_ID, ENCORE_MEMORY_MAX_AGE_DAYS, ..._MAX_EVENTS

Provider endpoints follow each vendor's own variables: OPENAI_API_KEY / OPENAI_BASE_URL,
OLLAMA_HOST, ANTHROPIC_API_KEY, AWS_REGION (Bedrock); ENCORE_MODEL_BASE_URL overrides the base URL
of the OpenAI, Ollama and Anthropic providers.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AgentSettings(BaseSettings):
    """What the agent runtime reads from the environment; defaults are the offline path."""

    model_config = SettingsConfigDict(env_prefix="ENCORE_", env_file=".env", extra="ignore")

    model: str = Field("offline", description="model provider and id, e.g. openai:gpt-4o-mini")
    model_base_url: str | None = Field(None, description="base URL override for the provider")
    model_max_tokens: int = Field(2048, ge=1, description="completion limit for LLM providers")
    role: str = Field("analyst", description="governance role the tools run as")
    user: str = Field("local", description="user id: memory owner and audit name")
    mcp_url: str | None = Field(None, description="streamable-HTTP MCP URL; unset: a subprocess")
    mcp_command: list[str] = Field(
        default_factory=list,
        description="command of the stdio MCP server; empty: python -m mcp_servers all",
    )
    mcp_startup_timeout_s: int = Field(60, ge=1, description="wait for the MCP server to start")
    mcp_share: bool = Field(
        True,
        description="one MCP server subprocess per role for all users, each call naming its "
        "user; false: one per user and role, its user fixed at start",
    )
    mcp_max_live: int = Field(8, ge=1, description="MCP server subprocesses running at once")
    mcp_idle_s: float = Field(600.0, gt=0, description="an idle MCP server stops after this")
    traces: str = Field("none", description="none, console, file:PATH or otlp")
    memory: Literal["local", "agentcore"] = Field("local", description="memory backend")
    memory_id: str | None = Field(None, description="AgentCore Memory id (memory=agentcore)")
    memory_max_age_days: float = Field(90.0, gt=0, description="events older than this are purged")
    memory_max_events: int = Field(
        1000, ge=1, description="events kept per user and session; older ones are purged"
    )
    history_turns: int = Field(6, ge=0, description="past turns replayed into a resumed session")
    window_messages: int = Field(40, ge=4, description="sliding window of the conversation")
