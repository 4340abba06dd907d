"""Fixtures shared by every test package."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import Settings

pytest_plugins = ["tests.postgres"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"

# Tests never reach AWS: boto3 must not probe the instance metadata endpoint.
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real third-party data beside the project (CI always has it; a user's clone may not)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(
            f"real test data not found at {SHARED_DATA} (only present in the team's workspace)"
        )
    return SHARED_DATA


def query_warehouse(settings: Settings, sql: str) -> list[tuple[object, ...]]:
    """Rows of a query on the settings' warehouse, through the tools' read-only connection."""
    from core.warehouse import reading

    with reading(settings) as con:
        return con.execute(sql).fetchall()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose data directory is a fresh temporary folder."""
    return Settings(data_dir=tmp_path / "encore")


# ---- AWS APIs: one moto server per test session, on loopback ------------------------------

MOTO_SERVER = Path(sys.executable).parent / "moto_server"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    # no proxy handler: a proxy set in the environment must never see loopback test traffic
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto_server exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            opener.open(f"{url}/moto-api/", timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"moto_server did not answer on {url} within 20 s")


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a moto server on a free loopback port, stopped at the end of the session."""
    if not MOTO_SERVER.exists():
        pytest.skip("moto_server is not installed: pip install 'moto[server]'")
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "moto_server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Dummy credentials for this test only, and nothing that could reach a real account."""
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(var, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


# ---- a small warehouse, built once per test session -----------------------------------------

SMALL_AS_OF = "2026-11-01"


@pytest.fixture(scope="session")
def small_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of a small-scale demo warehouse (seed 42, as of SMALL_AS_OF); treat as read-only.

    Tests that write copy it first (`copy_warehouse`).
    """
    from datetime import date

    from pipelines.commands.data import build_dataset

    settings = Settings(data_dir=tmp_path_factory.mktemp("small-warehouse") / "encore")
    build_dataset(settings, "small", 42, date.fromisoformat(SMALL_AS_OF))
    return settings


def copy_warehouse(source: Settings, tmp_path: Path, *, models: bool = False) -> Settings:
    """A private, writable copy of a warehouse (e.g. of `small_warehouse`), and of its trained
    models with `models=True`."""
    import shutil

    settings = Settings(data_dir=tmp_path / "encore-copy")
    settings.data_dir.mkdir(parents=True)
    shutil.copy2(source.warehouse_file, settings.warehouse_file)
    if models:
        shutil.copytree(source.models_dir, settings.models_dir)
    return settings


@pytest.fixture(scope="session")
def trained_warehouse(
    small_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """The small warehouse with the models `encore demo` trains (venue ranking, sales forecast,
    recommender), trained once per session; tests take `copy_warehouse(..., models=True)`."""
    from models.forecast.train import train as train_forecast
    from models.ranking import train_ranking
    from models.recommend import train as train_recommender

    settings = copy_warehouse(small_warehouse, tmp_path_factory.mktemp("trained"))
    train_ranking(settings)
    train_forecast(settings)
    train_recommender(settings)
    return settings
