"""Backend selection and the AgentCore adapter: builds offline, fails clearly without AWS."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import ConfigError, ValidationError
from core.settings import Settings
from tools.browser import BrowserConfig, fetch_page
from tools.browser.agentcore import AgentCoreBrowser
from tools.browser.backends import backend_name, open_browser
from tools.browser.local import LocalBrowser
from tools.context import ToolContext


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No AWS credentials anywhere, no metadata endpoint, and any socket connect fails loudly."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))

    def refuse(self: socket.socket, address: object) -> None:
        raise AssertionError(f"unexpected network connection to {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    # Names resolve to a public address without asking a DNS server.
    monkeypatch.setattr(
        socket, "getaddrinfo", lambda host, port, *a, **k: [(2, 1, 6, "", ("151.101.1.1", port))]
    )


def aws_settings(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "encore", profile="aws")


def test_local_is_the_default_and_aws_profile_picks_agentcore(tmp_path: Path) -> None:
    local = Settings(_env_file=None, data_dir=tmp_path)
    assert backend_name(local, BrowserConfig()) == "local"
    assert backend_name(aws_settings(tmp_path), BrowserConfig()) == "agentcore"
    assert backend_name(aws_settings(tmp_path), BrowserConfig(backend="local")) == "local"
    assert isinstance(open_browser(local, BrowserConfig()), LocalBrowser)


def test_agentcore_adapter_builds_offline(no_aws: None, tmp_path: Path) -> None:
    browser = open_browser(aws_settings(tmp_path), BrowserConfig())
    assert isinstance(browser, AgentCoreBrowser)
    assert browser.name == "agentcore" and browser.region == "us-east-1"
    browser.close()


def test_agentcore_without_aws_gives_a_clear_error(no_aws: None, tmp_path: Path) -> None:
    ctx = ToolContext(aws_settings(tmp_path))
    with pytest.raises(ConfigError, match="AgentCore browser needs AWS credentials"):
        fetch_page(ctx, url="https://www.setlist.fm/", use_cache=False)


def test_agentcore_applies_the_allow_list_before_aws(no_aws: None) -> None:
    with pytest.raises(ValidationError, match="not on the browser's allow-list"):
        AgentCoreBrowser(BrowserConfig()).fetch("http://169.254.169.254/latest/meta-data/")


def test_importing_the_package_does_not_import_aws_clients() -> None:
    code = (
        "import sys, tools.browser, tools.browser.backends, tools.browser.agentcore;"
        "print(sorted(m for m in ('bedrock_agentcore', 'boto3', 'playwright') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
