"""Create or update the stack through a CloudFormation change set, and read what it made.

A change set shows what will change before anything does; one that holds no change means the
stack is up to date, so deploying twice changes nothing. Progress comes from the stack's events;
a failed deployment raises with each failed resource's reason (CloudFormation rolls back itself).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from core.aws import aws_call, client
from core.errors import AwsError, ConfigError
from core.settings import Settings

DEFAULT_STACK: Final = "encore"
_CAPABILITIES: Final = ["CAPABILITY_NAMED_IAM"]  # the template names its IAM policies
_NO_CHANGES: Final = ("didn't contain changes", "No updates are to be performed")
_DONE: Final = ("CREATE_COMPLETE", "UPDATE_COMPLETE")
_FAILED: Final = ("ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "CREATE_FAILED",
                  "ROLLBACK_FAILED", "UPDATE_ROLLBACK_FAILED", "DELETE_COMPLETE")  # fmt: skip

SETTINGS_OF_OUTPUTS: Final = {
    "LakeBucketName": "ENCORE_LAKE_BUCKET",
    "GlueDatabaseName": "ENCORE_GLUE_DATABASE",
    "SageMakerExecutionRoleArn": "ENCORE_SAGEMAKER_EXECUTION_ROLE",
    "RedshiftIamRoleArn": "ENCORE_REDSHIFT_IAM_ROLE",
    "RedshiftWorkgroupName": "ENCORE_REDSHIFT_WORKGROUP",
    "CognitoUserPoolId": "ENCORE_COGNITO_USER_POOL_ID",
    "CognitoAppClientId": "ENCORE_COGNITO_APP_CLIENT_ID",
    "Region": "ENCORE_AWS_REGION",
}
"""Stack outputs that are ENCORE_ settings of the `aws` profile."""


@dataclass
class Deployment:
    """What a deployment did: its change set's changes (empty when the stack was up to date)."""

    stack: str
    action: str  # created, updated, unchanged
    changes: list[str] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)


def deploy_stack(
    settings: Settings,
    template_body: str,
    *,
    name: str = DEFAULT_STACK,
    timeout_s: float = 1800.0,
    poll_s: float = 5.0,
    on_event: Callable[[str], None] | None = None,
) -> Deployment:
    """Create the stack `name` or update it to `template_body`; wait until it is done."""
    cloudformation = client("cloudformation", settings)
    existing = _status(cloudformation, name)
    if existing == "ROLLBACK_COMPLETE":  # a failed first create can only be deleted
        raise ConfigError(
            f"stack {name} failed to create earlier and is in ROLLBACK_COMPLETE; delete it "
            f"(aws cloudformation delete-stack --stack-name {name}) and deploy again",
            stack=name,
        )
    kind = "UPDATE" if existing else "CREATE"
    change_set = f"{name}-{int(time.time())}"
    with aws_call(f"create a change set for stack {name}", stack=name):
        created = cloudformation.create_change_set(
            StackName=name,
            ChangeSetName=change_set,
            ChangeSetType=kind,
            TemplateBody=template_body,
            Capabilities=_CAPABILITIES,
            Tags=[{"Key": "application", "Value": "encore"}],
        )
    described = _await_change_set(cloudformation, created["Id"], timeout_s, poll_s)
    if described["Status"] == "FAILED":
        reason = described.get("StatusReason", "")
        if any(text in reason for text in _NO_CHANGES):
            with aws_call(f"delete the empty change set of {name}"):
                cloudformation.delete_change_set(ChangeSetName=created["Id"])
            return Deployment(name, "unchanged", outputs=stack_outputs(settings, name))
        raise AwsError(f"the change set for stack {name} failed: {reason}", stack=name)
    changes = [
        f"{c['ResourceChange']['Action'].lower()} {c['ResourceChange']['LogicalResourceId']} "
        f"({c['ResourceChange']['ResourceType']})"
        for c in described.get("Changes", [])
        if "ResourceChange" in c
    ]
    started = time.time()
    with aws_call(f"execute the change set of stack {name}", stack=name):
        cloudformation.execute_change_set(ChangeSetName=created["Id"])
    status = _await_stack(cloudformation, name, started, timeout_s, poll_s, on_event)
    if status not in _DONE:
        failures = _failures(cloudformation, name, started)
        raise AwsError(
            f"stack {name} ended in {status}: " + ("; ".join(failures) or "see its events"),
            stack=name,
            status=status,
        )
    action = "created" if kind == "CREATE" else "updated"
    return Deployment(name, action, changes, stack_outputs(settings, name))


def stack_outputs(settings: Settings, name: str = DEFAULT_STACK) -> dict[str, str]:
    """The stack's outputs by key."""
    cloudformation = client("cloudformation", settings)
    with aws_call(f"describe stack {name}", stack=name):
        try:
            stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
        except cloudformation.exceptions.ClientError as exc:
            if "does not exist" in str(exc):
                raise ConfigError(
                    f"there is no stack {name}: run `encore aws stack deploy` first", stack=name
                ) from exc
            raise
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def settings_from_outputs(outputs: dict[str, str]) -> dict[str, str]:
    """The ENCORE_ settings that point the `aws` profile at the stack's resources."""
    env = {"ENCORE_PROFILE": "aws", "ENCORE_STREAM_KIND": "kinesis"}
    env |= {SETTINGS_OF_OUTPUTS[k]: v for k, v in outputs.items() if k in SETTINGS_OF_OUTPUTS}
    if "ENCORE_COGNITO_USER_POOL_ID" in env:
        env["ENCORE_AUTH"] = "cognito"
    return env


def _status(cloudformation: Any, name: str) -> str | None:
    with aws_call(f"describe stack {name}", stack=name):
        try:
            stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
        except cloudformation.exceptions.ClientError as exc:
            if "does not exist" in str(exc):
                return None
            raise
    status = str(stacks[0]["StackStatus"])
    # a stack created by a change set that was never executed exists only on paper
    return None if status == "REVIEW_IN_PROGRESS" else status


def _await_change_set(
    cloudformation: Any, change_set: str, timeout_s: float, poll_s: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        with aws_call("describe a change set"):
            described: dict[str, Any] = cloudformation.describe_change_set(ChangeSetName=change_set)
        if described["Status"] in ("CREATE_COMPLETE", "FAILED"):
            return described
        if time.monotonic() > deadline:
            raise AwsError(f"change set {change_set} not ready after {timeout_s:.0f} s")
        time.sleep(poll_s)


def _await_stack(
    cloudformation: Any,
    name: str,
    since: float,
    timeout_s: float,
    poll_s: float,
    on_event: Callable[[str], None] | None,
) -> str:
    """Follow the stack until it settles; each new event goes to `on_event`; the final status."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout_s
    while True:
        if on_event:
            for event in reversed(_events(cloudformation, name, since)):
                if event["EventId"] not in seen:
                    seen.add(event["EventId"])
                    reason = event.get("ResourceStatusReason")
                    on_event(
                        f"{event['ResourceStatus']:<20} {event['LogicalResourceId']}"
                        + (f": {reason}" if reason else "")
                    )
        status = _status(cloudformation, name) or "REVIEW_IN_PROGRESS"
        if not status.endswith("_IN_PROGRESS"):
            return status
        if time.monotonic() > deadline:
            raise AwsError(f"stack {name} still {status} after {timeout_s:.0f} s", stack=name)
        time.sleep(poll_s)


def _events(cloudformation: Any, name: str, since: float) -> list[dict[str, Any]]:
    """The stack's events since `since` (epoch seconds), newest first (the first page)."""
    with aws_call(f"read the events of stack {name}", stack=name):
        events = cloudformation.describe_stack_events(StackName=name)["StackEvents"]
    return [e for e in events if e["Timestamp"].timestamp() >= since - 1]


def _failures(cloudformation: Any, name: str, since: float) -> list[str]:
    return [
        f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', e['ResourceStatus'])}"
        for e in reversed(_events(cloudformation, name, since))
        if e["ResourceStatus"].endswith("_FAILED")
    ]
