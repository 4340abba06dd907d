"""REST API fixtures: real uvicorn on loopback over a copy of the trained small warehouse."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from agent.rest.app import create_app
from agent.rest.config import ApiSettings
from agent.ui.auth import UserStore
from core.settings import Settings
from tests.conftest import copy_warehouse

PASSWORD = "correct horse battery"
USERS = {"ana": "analyst", "pat": "partner", "root": "admin"}


@contextmanager
def running(app: FastAPI) -> Iterator[str]:
    """Serve `app` with uvicorn in a thread on a free loopback port; yields the base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def client(url: str, token: str | None = None) -> httpx.Client:
    """An HTTP client that never goes through a proxy from the environment."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=url, headers=headers, trust_env=False, timeout=30)


def login(url: str, user: str, password: str = PASSWORD) -> str:
    with client(url) as http:
        response = http.post("/v1/token", data={"username": user, "password": password})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@dataclass(frozen=True)
class Api:
    url: str
    settings: Settings
    tokens: dict[str, str]

    def as_(self, user: str) -> httpx.Client:
        return client(self.url, self.tokens[user])


@pytest.fixture(scope="module")
def api_warehouse(
    trained_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """A private copy of the trained warehouse with three local users, one per role."""
    settings = copy_warehouse(trained_warehouse, tmp_path_factory.mktemp("rest"), models=True)
    store = UserStore(settings)
    for name, role in USERS.items():
        store.add(name, PASSWORD, role=role)
    return settings


@pytest.fixture(scope="module")
def api(api_warehouse: Settings) -> Iterator[Api]:
    """The API with default limits, and a token for each user."""
    with running(create_app(api_warehouse, ApiSettings(rate_burst=1000))) as url:
        yield Api(url, api_warehouse, {name: login(url, name) for name in USERS})


@pytest.fixture
def data_dir(api_warehouse: Settings) -> Path:
    return api_warehouse.data_dir
