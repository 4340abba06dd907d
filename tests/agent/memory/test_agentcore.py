"""The AgentCore Memory adapter builds offline and fails with a plain message without AWS."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.memory.agentcore import AgentCoreMemory
from agent.memory.failsoft import FailSoftMemory
from core.errors import ConfigError


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "AWS_WEB_IDENTITY_TOKEN_FILE"):  # fmt: skip
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))


def test_it_needs_a_memory_id() -> None:
    with pytest.raises(ConfigError, match="ENCORE_MEMORY_ID"):
        AgentCoreMemory(None)


def test_it_builds_offline_and_says_what_to_set_without_credentials(no_aws: None) -> None:
    memory = AgentCoreMemory("mem-123", region="us-east-1")
    with pytest.raises(ConfigError, match="credentials") as info:
        memory.preferences("ana")
    assert "ENCORE_MEMORY=local" in str(info.value)
    # behind the fail-soft wrapper the agent carries on without memory
    soft = FailSoftMemory(memory)
    assert soft.preferences("ana").is_empty() and soft.failed
