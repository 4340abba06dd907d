"""`start_ui`: prepare the secret, the demo user and the history tables, then run Chainlit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import webbrowser
from pathlib import Path
from typing import Final

from core.settings import Settings

from .auth import ensure_auth_secret, ensure_demo_user
from .config import UiSettings
from .history import create_tables

ROOT: Final = Path(__file__).resolve().parents[2]
APP: Final = ROOT / "chainlit_app.py"


def prepare(settings: Settings, ui: UiSettings | None = None) -> tuple[dict[str, str], str, str]:
    """Secret, demo user and tables; returns (environment for Chainlit, demo name, password)."""
    ui = ui or UiSettings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    secret = ensure_auth_secret(settings)
    name, password = ensure_demo_user(settings, ui.demo_user)
    create_tables(settings)
    env = dict(os.environ)
    env.update(
        CHAINLIT_AUTH_SECRET=secret,
        ENCORE_DATA_DIR=str(settings.data_dir.resolve()),
        AWS_EC2_METADATA_DISABLED="true",
    )
    if settings.warehouse_path:
        env["ENCORE_WAREHOUSE_PATH"] = str(settings.warehouse_path.resolve())
    return env, name, password


def command(host: str, port: int) -> list[str]:
    """The Chainlit command line (headless: we print the address instead of opening a tab)."""
    chainlit = Path(sys.executable).with_name("chainlit")
    runner = [str(chainlit)] if chainlit.exists() else [sys.executable, "-m", "chainlit"]
    return [*runner, "run", str(APP), "--headless", "--host", host, "--port", str(port)]


def start_ui(
    settings: Settings, *, host: str = "127.0.0.1", port: int = 8000, open: bool = False
) -> int:
    """Run the chat UI in the foreground until interrupted; returns Chainlit's exit code.

    Prints the address and the demo login first. The working directory is the repo root, where
    `.chainlit/config.toml` lives.
    """
    env, name, password = prepare(settings)
    url = f"http://{host}:{port}"
    # flushed: the lines must come before Chainlit's own output, also when piped to a file
    print(f"Encore chat UI: {url}", flush=True)
    print(f"Demo login: {name} / {password}", flush=True)
    process = subprocess.Popen(command(host, port), cwd=ROOT, env=env)  # noqa: S603
    # A SIGTERM to the launcher must not leave Chainlit holding the port: turn it into an exit.
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143)) if main else None
    if open:
        webbrowser.open(url)
    try:
        return process.wait()
    except KeyboardInterrupt:
        return 130
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
