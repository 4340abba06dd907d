"""One Chainlit app and one Chromium per test module, on loopback, with a copy of the warehouse.

The app drives the real `AgentService` (offline planner, `python -m mcp_servers all`). To check
the page alone, `ENCORE_UI_TEST_AGENT=scripted` swaps in `scripted_service.py`; ENCORE_MCP_COMMAND
(the agent's own setting) passes through, e.g. to the agent tests' stand-in MCP server.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from agent.ui.launch import ROOT, command, prepare
from core.settings import Settings
from tests.conftest import copy_warehouse

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--proxy-server=http://127.0.0.1:9",  # anything not on loopback fails instead of leaving
]
SCRIPTED = Path(__file__).with_name("scripted_service.py")


@dataclass
class App:
    url: str
    user: str
    password: str
    settings: Settings
    log: Path
    started_in_s: float
    requests: list[str] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the UI exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    pytest.fail(f"the UI did not answer within {limit_s:.0f} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def ui_app(small_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """The chat UI as a subprocess, like `encore ui` runs it (agent: real unless told otherwise)."""
    if not CHROMIUM.exists():
        pytest.skip(
            "Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)"
        )
    tmp = tmp_path_factory.mktemp("ui")
    settings = copy_warehouse(small_warehouse, tmp)
    env, user, password = prepare(settings)
    env.pop("ENCORE_MODEL", None)
    # the real MCP servers are not on main yet: default to the scripted agent until they land
    if os.environ.get("ENCORE_UI_TEST_AGENT", "scripted") == "scripted":
        env["ENCORE_UI_AGENT"] = f"{SCRIPTED}:create"
    else:
        env.pop("ENCORE_UI_AGENT", None)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp / "chainlit.log"
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(
            command("127.0.0.1", port), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait_ready(url, process, log, 90)
        app = App(url, user, password, settings, log, time.monotonic() - started)
        print(f"\nUI answered {app.started_in_s:.1f} s after start")
        yield app
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One headless Chromium for the module."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the tests save screenshots."""
    return tmp_path_factory.mktemp("screenshots")
