"""Choosing the browser backend from settings: local by default, AgentCore on the aws profile."""

from __future__ import annotations

from core.settings import Settings
from tools.browser.base import Browser
from tools.browser.config import BackendName, BrowserConfig


def backend_name(settings: Settings, config: BrowserConfig) -> BackendName:
    """The configured backend, else 'agentcore' on the aws profile and 'local' otherwise."""
    if config.backend is not None:
        return config.backend
    return "agentcore" if settings.profile == "aws" else "local"


def open_browser(settings: Settings, config: BrowserConfig) -> Browser:
    """A browser for `config`; the AgentCore one is imported only when chosen."""
    if backend_name(settings, config) == "agentcore":
        from tools.browser.agentcore import AgentCoreBrowser

        return AgentCoreBrowser(config, region=settings.aws_region)
    from tools.browser.local import LocalBrowser

    return LocalBrowser(config)
