"""Two `encore serve api` processes over one data dir, as two uvicorn workers would be: a user has
one rate limit between them, not one each, and a token signed out on one is refused by the other."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agent.ui.auth import UserStore
from core.settings import Settings
from tests.agent.rest.conftest import PASSWORD, client, login
from tests.conftest import _free_port

SERVE = "from agent.cli import main; main()"
BURST = 4


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90  # cold starts on a loaded 2-core machine took 30 s
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            with client(url) as http:
                if http.get("/health").status_code == 200:
                    return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)


@pytest.fixture
def two_servers(settings: Settings, tmp_path: Path) -> Iterator[list[str]]:
    for name in ("ana", "pat"):
        UserStore(settings).add(name, PASSWORD, role="analyst")
    env = {
        **os.environ,
        "ENCORE_DATA_DIR": str(settings.data_dir),
        "ENCORE_API_RATE_BURST": str(BURST),
        "ENCORE_API_RATE_PER_S": "0.01",  # one token per 100 s: none comes back during the test
        "NO_PROXY": "127.0.0.1",
    }
    procs: list[tuple[str, subprocess.Popen[bytes], Path]] = []
    try:
        for name in ("a", "b"):
            port, log = _free_port(), tmp_path / f"serve-{name}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    [sys.executable, "-c", SERVE, "serve", "api", "--port", str(port)],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            procs.append((f"http://127.0.0.1:{port}", proc, log))
        for url, proc, log in procs:
            _wait_healthy(url, proc, log)
        yield [url for url, _, _ in procs]
    finally:
        for _, proc, _ in procs:
            proc.terminate()
        for _, proc, _ in procs:
            proc.wait(timeout=10)


@pytest.mark.slow
def test_two_processes_share_one_limit_and_one_denylist(two_servers: list[str]) -> None:
    a, b = two_servers
    token = login(a, "ana")
    with client(a, token) as to_a, client(b, token) as to_b:
        statuses = [(to_a if i % 2 else to_b).get("/v1/me").status_code for i in range(BURST + 4)]
        # per-process buckets would let 2 x BURST through
        assert statuses == [200] * BURST + [429] * 4, statuses
        limited = to_b.get("/v1/me")
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 1

    fresh = login(b, "ana")  # a new token from b, but the bucket is the user's: still limited
    with client(a, fresh) as to_a, client(b, fresh) as to_b:
        assert to_a.get("/v1/me").status_code == 429
        assert to_a.post("/v1/auth/revoke").status_code == 200  # signing out is never limited
        assert to_b.get("/v1/me").status_code == 401

    signed_out = login(a, "pat")
    with client(a, signed_out) as to_a, client(b, signed_out) as to_b:
        assert to_b.get("/v1/me").status_code == 200
        assert to_a.post("/v1/auth/revoke").status_code == 200
        refused = to_b.get("/v1/me")
        assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
