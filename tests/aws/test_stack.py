"""`encore aws stack`: the CloudFormation template is valid and deploys on moto's server, twice."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from agent.stack.cli import stack_app
from agent.stack.deploy import SETTINGS_OF_OUTPUTS, deploy_stack, settings_from_outputs
from agent.stack.template import StackSpec, build_template
from core.errors import ConfigError
from core.settings import Settings
from pipelines.lake.lifecycle import lifecycle_rules
from pipelines.lake.tiering import TierPolicy
from tests.aws.conftest import aws_client

ROLES = ("admin", "analyst", "partner")


def _spec(settings: Settings, **overrides: Any) -> StackSpec:
    return StackSpec.from_settings(settings.model_copy(update=overrides), ROLES)


def test_the_template_passes_cfn_lint_against_cloudformations_specification() -> None:
    cfnlint = pytest.importorskip("cfnlint.api")
    # the serverless warehouse's template holds every resource the stack can have
    body = build_template(_spec(Settings(lake_bucket="encore-lake-123456789012"))).to_yaml()
    problems = cfnlint.lint(body, config=cfnlint.ManualArgs(regions=["us-east-1"]))
    assert [str(p) for p in problems] == []


def test_the_bucket_carries_the_lakes_tiering_rules() -> None:
    # the same rules `encore lake tier --aws` applies (moto's CloudFormation ignores them)
    policy = TierPolicy(raw_expiry_days=400, quarantine_expiry_days=60)
    spec = StackSpec.from_settings(Settings(lake_bucket="lake"), ROLES, tiers=policy)
    bucket = build_template(spec).to_dict()["Resources"]["LakeBucket"]["Properties"]
    rules = {r["Id"]: r for r in bucket["LifecycleConfiguration"]["Rules"]}
    expected = {r["ID"]: r for r in lifecycle_rules(policy)}
    assert rules.keys() == expected.keys()
    for rule_id, rule in expected.items():
        days = [(t["StorageClass"], t["Days"]) for t in rule.get("Transitions", [])]
        assert [
            (t["StorageClass"], t["TransitionInDays"])
            for t in rules[rule_id].get("Transitions", [])
        ] == days
        assert rules[rule_id].get("ExpirationInDays") == rule.get("Expiration", {}).get("Days")
        assert rules[rule_id].get("Prefix") == (rule["Filter"]["Prefix"] or None)
    assert all(bucket["PublicAccessBlockConfiguration"].values())


def test_a_provisioned_cluster_setting_leaves_redshift_serverless_out() -> None:
    settings = Settings(lake_bucket="encore-lake-x")
    serverless = build_template(_spec(settings)).resources
    provisioned = build_template(_spec(settings, redshift_cluster_id="mine")).resources
    assert {"RedshiftNamespace", "RedshiftWorkgroup"} <= serverless.keys()
    assert not {"RedshiftNamespace", "RedshiftWorkgroup"} & provisioned.keys()


def test_every_output_fills_a_setting_that_exists() -> None:
    names = {f"ENCORE_{f.upper()}" for f in Settings.model_fields}
    assert set(SETTINGS_OF_OUTPUTS.values()) <= names
    env = settings_from_outputs({"LakeBucketName": "lake", "CognitoUserPoolId": "us-east-1_x"})
    assert env["ENCORE_AUTH"] == "cognito" and env["ENCORE_PROFILE"] == "aws"
    assert set(env) <= names
    body = build_template(_spec(Settings(lake_bucket="lake"))).to_dict()
    assert set(SETTINGS_OF_OUTPUTS) <= set(body["Outputs"])


def test_a_bucket_name_s3_would_refuse_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="not a valid S3 bucket name"):
        build_template(_spec(Settings(lake_bucket="Encore_Lake")))


def test_without_a_lake_bucket_the_command_says_which_setting_to_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ENCORE_LAKE_BUCKET", raising=False)
    result = CliRunner().invoke(stack_app, ["template"], terminal_width=200)
    assert result.exit_code == 1
    assert "set ENCORE_LAKE_BUCKET" in result.output


def test_deploy_creates_the_stack_then_finds_it_up_to_date(
    moto_endpoint: str, aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = "encore-stack-lake"
    monkeypatch.setenv("ENCORE_LAKE_BUCKET", bucket)
    monkeypatch.setenv("ENCORE_AWS_ENDPOINT_URL", moto_endpoint)
    settings = Settings()
    body = build_template(StackSpec.from_settings(settings, ROLES, stream="stack-events")).to_json()
    events: list[str] = []

    first = deploy_stack(settings, body, name="encore-test", poll_s=0.2, on_event=events.append)

    assert first.action == "created"
    assert any("LakeBucket" in change for change in first.changes)
    assert any("CREATE_COMPLETE" in event for event in events)
    assert bucket in {b["Name"] for b in aws_client("s3", settings).list_buckets()["Buckets"]}
    stream = aws_client("kinesis", settings).describe_stream_summary(StreamName="stack-events")
    assert stream["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE"
    roles = {r["RoleName"] for r in aws_client("iam", settings).list_roles()["Roles"]}
    assert any("GlueJobRole" in r for r in roles) and any("AgentRuntimeRole" in r for r in roles)

    second = deploy_stack(settings, body, name="encore-test", poll_s=0.2)
    assert second.action == "unchanged" and second.changes == []

    changed = json.loads(body)
    changed["Resources"]["EventsStream"]["Properties"]["RetentionPeriodHours"] = 48
    third = deploy_stack(settings, json.dumps(changed), name="encore-test", poll_s=0.2)
    assert third.action == "updated"
    assert any("EventsStream" in change for change in third.changes)
