"""A real moto server on loopback, started once per session, and clients that talk to it."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest

from pipelines.monitoring.cloudwatch import CloudWatchMonitor

REGION = "us-east-1"
_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture
def moto_url(moto_endpoint: str, aws_env: None) -> str:
    """The shared moto server's URL, with dummy AWS credentials for this test only."""
    return moto_endpoint


@pytest.fixture
def cloudwatch(moto_url: str) -> Any:
    """A CloudWatch client on the moto server."""
    return boto3.client("cloudwatch", region_name=REGION, endpoint_url=moto_url)


@pytest.fixture
def logs(moto_url: str) -> Any:
    """A CloudWatch Logs client on the moto server."""
    return boto3.client("logs", region_name=REGION, endpoint_url=moto_url)


@pytest.fixture
def namespace() -> str:
    """A namespace of the test's own, so tests sharing the server never see each other's data."""
    return f"EncoreTest/{uuid.uuid4().hex[:12]}"


@pytest.fixture
def monitor(moto_url: str, namespace: str) -> CloudWatchMonitor:
    """A CloudWatchMonitor that builds its own clients from `endpoint_url`."""
    return CloudWatchMonitor(
        namespace, endpoint_url=moto_url, region=REGION, log_group=f"/{namespace}/alerts"
    )
