"""`encore serve api` as a user starts it: a subprocess on a loopback port, logging to stderr."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from core.settings import Settings
from tests.agent.rest.conftest import client, login
from tests.conftest import _free_port

SERVE = "from agent.cli import main; main()"  # the `encore` entry point, root logging and all


def test_serve_api_with_two_workers_answers_and_logs_each_request_with_its_user(
    api_warehouse: Settings, tmp_path: Path
) -> None:
    port = _free_port()
    log = tmp_path / "serve.log"
    env = {**os.environ, "ENCORE_DATA_DIR": str(api_warehouse.data_dir), "NO_PROXY": "127.0.0.1"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", SERVE, "serve", "api", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90  # a cold start on a loaded 2-core machine took 30 s
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                with client(url) as http:
                    health = http.get("/health")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        assert health.json()["auth"] == "local"
        with client(url, login(url, "pat")) as http:
            assert http.get("/v1/me").json() == {"user": "pat", "role": "partner"}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    text = log.read_text()
    assert "GET /v1/me 200" in text and "user=pat" in text
    assert "Traceback" not in text
    # both workers came up, and none was killed for answering uvicorn's health check late
    assert text.count("Application startup complete") == 2 and "died" not in text
