"""agentcore.yaml describes a deployment whose entrypoint and settings exist in this project."""

from __future__ import annotations

from pathlib import Path

import yaml

from agent.config import AgentSettings
from agent.runtime import RuntimeSettings
from core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_the_deployment_file_points_at_our_runtime() -> None:
    config = yaml.safe_load((ROOT / "agentcore.yaml").read_text())
    agent = config["agents"][config["default_agent"]]
    assert (ROOT / agent["entrypoint"]).read_text().count("BedrockAgentCoreApp") >= 1
    assert agent["memory"]["mode"] == "STM_AND_LTM"
    assert "customJWTAuthorizer" in agent["authorizer_configuration"]
    assert agent["aws"]["observability"]["enabled"] is True
    # every ENCORE_* variable it sets is a setting the agent reads
    fields = (
        {f"ENCORE_{name.upper()}" for name in AgentSettings.model_fields}
        | {f"ENCORE_{name.upper()}" for name in Settings.model_fields}
        | {f"ENCORE_RUNTIME_{name.upper()}" for name in RuntimeSettings.model_fields}
    )
    environment = agent["environment"]
    assert {k for k in environment if k.startswith("ENCORE_")} <= fields
    # deployed, a call is answered only for a verified caller, as that caller
    assert environment["ENCORE_AUTH"] == "cognito"
    assert environment["ENCORE_RUNTIME_REQUIRE_TOKEN"] == "true"
