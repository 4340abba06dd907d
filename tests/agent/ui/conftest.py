"""One chat UI per test session and one Chromium per module, on loopback, on a trained warehouse.

The UI is started the way a user starts it, `encore ui --host 127.0.0.1 --port P`, and drives the
real agent: the offline planner and `python -m mcp_servers all` over a copy of the small
warehouse whose models (venue ranking, sales forecast, recommender) are trained first. No test
needs a scripted reply; to tell a page fault from an agent fault, `ENCORE_UI_TEST_AGENT=scripted`
swaps in `scripted_service.py` (the demo conversations then fail: they expect real answers).
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from agent.ui.launch import ROOT
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
ENCORE = Path(sys.executable).with_name("encore")


@dataclass
class App:
    url: str
    user: str
    password: str
    settings: Settings
    log: Path
    started_in_s: float
    printed: str
    requests: list[str] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _printed(log: Path, process: subprocess.Popen[bytes], limit_s: float) -> tuple[str, str, str]:
    """The address and demo login `encore ui` prints before Chainlit starts."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        url = re.search(r"^Encore chat UI: (http://\S+)$", text, re.MULTILINE)
        login = re.search(r"^Demo login: (\S+) / (\S+)$", text, re.MULTILINE)
        if url and login:
            return url[1], login[1], login[2]
        if process.poll() is not None:
            pytest.fail(f"encore ui exited with {process.returncode}:\n{text[-3000:]}")
        time.sleep(0.1)
    pytest.fail(f"encore ui printed no address and login within {limit_s:.0f} s")


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the UI exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with opener.open(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    pytest.fail(f"the UI did not answer within {limit_s:.0f} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def ui_warehouse(trained_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A writable copy of the trained small warehouse (uploads land in it)."""
    return copy_warehouse(trained_warehouse, tmp_path_factory.mktemp("ui"), models=True)


@pytest.fixture(scope="session")
def ui_app(ui_warehouse: Settings) -> Iterator[App]:
    """`encore ui` as a subprocess (agent: the real one unless ENCORE_UI_TEST_AGENT=scripted)."""
    if not CHROMIUM.exists():
        pytest.skip(
            "Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)"
        )
    settings = ui_warehouse
    env = dict(os.environ)
    for name in ("ENCORE_MODEL", "ENCORE_UI_AGENT", "ENCORE_MCP_URL", "ENCORE_MCP_COMMAND"):
        env.pop(name, None)
    env.pop("ENCORE_WAREHOUSE_PATH", None)
    env.update(
        ENCORE_DATA_DIR=str(settings.data_dir),
        AWS_EC2_METADATA_DISABLED="true",
        NO_PROXY="127.0.0.1,localhost",
    )
    if os.environ.get("ENCORE_UI_TEST_AGENT") == "scripted":
        env["ENCORE_UI_AGENT"] = f"{SCRIPTED}:create"
    log = settings.data_dir.parent / "encore-ui.log"
    started = time.monotonic()
    with running_ui(env, log) as (url, user, password):
        printed = log.read_text(errors="replace")
        app = App(url, user, password, settings, log, time.monotonic() - started, printed)
        print(f"\nUI answered {app.started_in_s:.1f} s after `encore ui` started")
        yield app


@contextlib.contextmanager
def running_ui(env: dict[str, str], log: Path) -> Iterator[tuple[str, str, str]]:
    """`encore ui` with `env` on a free loopback port, its output in `log`; yields (url, demo
    user, password) once it answers, and stops it after."""
    port = _free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(ENCORE), "ui", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        url, user, password = _printed(log, process, 60)
        _wait_ready(url, process, log, 90)
        yield url, user, password
    finally:
        process.terminate()  # the launcher turns SIGTERM into stopping Chainlit too
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


@contextlib.contextmanager
def signed_in(
    app: App, browser: Any, *, requests: list[str] | None = None, **context: Any
) -> Iterator[Any]:
    """A page of a new browser context, signed in to `app` as its user; every URL the page
    requests is appended to `requests` when given. `context`: browser context options."""
    options = {"viewport": {"width": 1280, "height": 900}, **context}
    browser_context = browser.new_context(**options)
    try:
        page = browser_context.new_page()
        if requests is not None:
            page.on("request", lambda request: requests.append(request.url))
        page.goto(app.url)
        page.fill("#email", app.user)
        page.fill("#password", app.password)
        page.keyboard.press("Enter")
        page.wait_for_selector("#chat-input", timeout=30_000)
        yield page
    finally:
        browser_context.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One headless Chromium per module (Playwright's sync API holds an event loop while it
    runs, which other modules' `asyncio.run` must not meet)."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the tests save screenshots."""
    return tmp_path_factory.mktemp("screenshots")
