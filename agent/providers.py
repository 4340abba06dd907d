"""Model providers by name: `offline` (the planner, default), `bedrock:`, `anthropic:`, `openai:`,
`ollama:`. Strands providers are imported only when chosen; a missing package is a ConfigError
naming the extra to install.

Endpoints and keys come from each vendor's usual variables (OPENAI_API_KEY, OPENAI_BASE_URL,
ANTHROPIC_API_KEY, OLLAMA_HOST, AWS_REGION); `ENCORE_MODEL_BASE_URL` overrides the base URL.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import Any

from strands.models import Model

from agent.config import AgentSettings
from core.errors import ConfigError

Vocabulary = Callable[[str], list[str]]
PROVIDERS = ("offline", "bedrock", "anthropic", "openai", "ollama")


def _import(module: str, name: str, extra: str) -> Any:
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError as exc:
        raise ConfigError(
            f"the {extra} model provider needs its client library: pip install 'encore[{extra}]'",
            missing=exc.name,
        ) from exc


def parse_model(spec: str) -> tuple[str, str]:
    """("openai", "gpt-4o-mini") from "openai:gpt-4o-mini"; ("offline", "") from "offline"."""
    provider, _, model_id = spec.partition(":")
    provider = provider.strip().lower()
    if provider not in PROVIDERS:
        raise ConfigError(
            f"unknown model {spec!r}; use offline, bedrock:<model id>, anthropic:<model>, "
            "openai:<model> or ollama:<model>",
            model=spec,
        )
    if provider != "offline" and not model_id:
        raise ConfigError(f"say which {provider} model to use, e.g. {provider}:<model id>")
    return provider, model_id


def build_model(
    spec: str, agent_settings: AgentSettings, *, vocabulary: Vocabulary, region: str = "us-east-1"
) -> Model:
    """The Strands model for `spec`; `vocabulary(kind)` feeds the offline planner's gazetteers."""
    provider, model_id = parse_model(spec)
    base_url = agent_settings.model_base_url
    max_tokens = agent_settings.model_max_tokens
    if provider == "offline":
        # no cloud on the offline path: boto3 must not probe the instance metadata endpoint
        os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
        planner = _import("agent.planner", "OfflinePlanner", "offline")
        model: Model = planner(vocabulary=vocabulary)
        return model
    if provider == "bedrock":
        bedrock = _import("strands.models.bedrock", "BedrockModel", "aws")
        region_name = os.environ.get("AWS_REGION", region)
        return bedrock(model_id=model_id, region_name=region_name, max_tokens=max_tokens)  # type: ignore[no-any-return]
    if provider == "anthropic":
        anthropic = _import("strands.models.anthropic", "AnthropicModel", "anthropic")
        client_args = {"base_url": base_url} if base_url else {}
        return anthropic(  # type: ignore[no-any-return]
            client_args=client_args, model_id=model_id, max_tokens=max_tokens
        )
    if provider == "openai":
        openai = _import("strands.models.openai", "OpenAIModel", "openai")
        client_args = {"base_url": base_url} if base_url else {}
        # the OpenAI client refuses to start without a key, even for keyless local servers
        if not os.environ.get("OPENAI_API_KEY"):
            client_args["api_key"] = "not-needed"
        return openai(  # type: ignore[no-any-return]
            client_args=client_args, model_id=model_id, params={"max_tokens": max_tokens}
        )
    ollama = _import("strands.models.ollama", "OllamaModel", "ollama")
    host = base_url or os.environ.get("OLLAMA_HOST") or "http://127.0.0.1:11434"
    return ollama(host, model_id=model_id, max_tokens=max_tokens)  # type: ignore[no-any-return]
