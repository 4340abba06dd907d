"""A real PostgreSQL server on loopback for the tests that need a SQL engine other than DuckDB.

Loaded by tests/conftest.py (`pytest_plugins`), so every package shares one server per session.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    """A throwaway PostgreSQL server on a free loopback port; its DSN. Stopped at session end."""
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip(
            "no PostgreSQL binaries under /usr/lib/postgresql/*/bin (apt install postgresql)"
        )
    # a folder of its own under the system temp dir: pytest's base temp is private to its owner,
    # and the server may have to run as another user
    base = Path(tempfile.mkdtemp(prefix="encore-pg-"))
    data = base / "data"
    prefix: list[str] = []
    if os.geteuid() == 0:
        # initdb and postgres refuse to run as root: run them as the postgres system user
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL as another user")
        prefix = ["runuser", "-u", "postgres", "--"]
        shutil.chown(base, user="postgres")
    port = _free_port()
    run: dict[str, Any] = {"check": True, "capture_output": True}
    subprocess.run([*prefix, str(bindir / "initdb"), "-D", str(data), "-U", "encore",
                    "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"], **run)  # fmt: skip
    log = base / "pg.log"
    subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w",
                    "-o", f"-h 127.0.0.1 -p {port} -k {base} -F", "start"], **run)  # fmt: skip
    dsn = f"host=127.0.0.1 port={port} user=encore dbname=postgres"
    try:
        import psycopg

        deadline = time.monotonic() + 20
        while True:
            try:
                psycopg.connect(dsn, connect_timeout=2).close()
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield dsn
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "-w", "stop"], check=False, capture_output=True)  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)
