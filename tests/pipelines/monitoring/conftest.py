"""A real moto server on loopback, started once per session, and clients that talk to it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(url: str, server: subprocess.Popen[bytes], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"moto_server exited with {server.returncode} before answering")
        try:
            with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.05)
    raise RuntimeError(f"moto_server did not answer at {url} within {timeout_s} s")


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """The base URL of a moto server on 127.0.0.1, killed when the session ends."""
    executable = Path(sys.executable).with_name("moto_server")
    port = _free_port()
    server = subprocess.Popen(
        [str(executable), "-H", "127.0.0.1", "-p", str(port)],
        env={**os.environ, **_AWS_ENV},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_up(url, server)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture
def moto_url(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The moto server's URL, with dummy AWS credentials in the environment for this test only."""
    for name, value in _AWS_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return moto_server


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
