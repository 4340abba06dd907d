"""LLM providers through their real client libraries, against loopback wire-protocol servers."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from agent.config import AgentSettings
from agent.providers import build_model, parse_model
from agent.service import AgentService
from core.errors import ConfigError
from tests.agent.conftest import agent_settings
from tests.agent.wire import Script, serve

QUERY = {"measures": ["tickets_sold"], "dimensions": ["state"], "limit": 3}


@pytest.mark.parametrize("provider", ["openai", "ollama"])
async def test_an_llm_provider_calls_a_tool_and_answers(
    provider: str, make_service: Callable[..., AgentService], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    script = Script("semantic_query", QUERY, "California leads ticket sales.")
    with serve(script) as url:
        base = f"{url}/v1" if provider == "openai" else url
        service = make_service(
            f"{provider}:test-model", agent_settings=agent_settings(model_base_url=base)
        )
        result = await service.ask("which states sell most tickets?")
    assert result.answer == "California leads ticket sales."
    assert [c.name for c in result.tool_calls] == ["semantic_query"]
    assert result.tool_calls[0].input == QUERY and result.tool_calls[0].error is None
    assert result.tables[0].columns == ["state", "tickets_sold"]
    assert len(result.tables[0].rows) == 3
    # the tool's result went back to the model, and the prompt carried the tools and preferences
    first, second = script.requests
    assert any(t["function"]["name"] == "semantic_query" for t in first["tools"])
    assert "USER_PREFERENCES:" in first["messages"][0]["content"].__str__()
    tool_message = next(m for m in second["messages"] if m["role"] == "tool")
    assert "tickets_sold" in str(tool_message["content"])


def test_model_specs_are_checked() -> None:
    assert parse_model("openai:gpt-4o-mini") == ("openai", "gpt-4o-mini")
    assert parse_model("bedrock:us.anthropic.claude-sonnet-4") == (
        "bedrock",
        "us.anthropic.claude-sonnet-4",
    )
    with pytest.raises(ConfigError, match="unknown model"):
        parse_model("gpt5")
    with pytest.raises(ConfigError, match="say which openai model"):
        parse_model("openai")


def test_a_missing_provider_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "strands.models.anthropic", None)
    with pytest.raises(ConfigError, match=r"pip install 'encore\[anthropic\]'"):
        build_model("anthropic:claude", AgentSettings(), vocabulary=lambda kind: [])


def test_bedrock_builds_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    model = build_model("bedrock:amazon.nova-lite-v1:0", AgentSettings(), vocabulary=lambda k: [])
    assert model.get_config()["model_id"] == "amazon.nova-lite-v1:0"
