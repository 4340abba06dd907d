"""`serve` listens before it builds the app: a client connecting during the start is answered
once the app is up, not refused."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from agent.rest.server import listen
from core.errors import ConfigError
from core.settings import Settings
from tests.agent.rest.conftest import client
from tests.conftest import _free_port

# the app is built only once the gate file exists: a start as slow as the test likes
GATED = """
import sys, time
from pathlib import Path

import agent.rest.app as app

build, gate = app.worker_app, Path(sys.argv[1])


def gated():
    while not gate.exists():
        time.sleep(0.02)
    return build()


app.worker_app = gated
from agent.rest.server import serve

serve(port=int(sys.argv[2]))
"""


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


def test_a_client_connecting_while_the_app_is_built_is_answered_once_it_is_up(
    api_warehouse: Settings, tmp_path: Path
) -> None:
    port, gate, log = _free_port(), tmp_path / "gate", tmp_path / "serve.log"
    env = {**os.environ, "ENCORE_DATA_DIR": str(api_warehouse.data_dir), "NO_PROXY": "127.0.0.1"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", GATED, str(gate), str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while not _accepts(port):  # the app is not built yet: only the socket can be listening
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(_health, f"http://127.0.0.1:{port}")
            time.sleep(0.5)
            assert not pending.done()  # queued, neither refused nor answered
            gate.touch()
            response = pending.result(timeout=60)
        assert response.status_code == 200, response.text
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert "Traceback" not in log.read_text()


def _health(url: str) -> httpx.Response:
    with client(url) as http:
        return http.get("/health", timeout=60)


def test_a_port_in_use_is_a_clear_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
            listen("127.0.0.1", port)
