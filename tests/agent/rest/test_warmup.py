"""The API warms the forecaster as it starts: the first forecast loads no model on its request.

Each test serves its own copy of the trained small warehouse with real uvicorn on loopback, and
watches `joblib.load` (how the registry unpickles a model) to see which thread loads the
forecaster: the copy's path is new to this process, so its first use really loads it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import joblib
import pytest

from agent.rest.app import create_app
from agent.rest.config import ApiSettings
from agent.ui.auth import UserStore
from core.settings import Settings
from tests.agent.rest.conftest import PASSWORD, client, login, running
from tests.conftest import copy_warehouse


class Loads:
    """Every load of a sales_forecast artifact: the thread that loaded it, optionally held."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.threads: list[str] = []
        self.gate = threading.Event()
        self.gate.set()
        self.fail_first = False
        real: Callable[..., Any] = joblib.load

        def load(path: Any, *args: Any, **kwargs: Any) -> Any:
            if "sales_forecast" in str(path):
                self.threads.append(threading.current_thread().name)
                assert self.gate.wait(30)
                if self.fail_first and len(self.threads) == 1:
                    raise OSError("the disk hiccupped")
            return real(path, *args, **kwargs)

        monkeypatch.setattr(joblib, "load", load)


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> Loads:
    return Loads(monkeypatch)


def _warehouse(trained: Settings, tmp_path: Path, *, models: bool = True) -> Settings:
    settings = copy_warehouse(trained, tmp_path, models=models)
    UserStore(settings).add("ana", PASSWORD, role="analyst")
    return settings


def _serve(settings: Settings) -> Any:
    return running(create_app(settings, ApiSettings(rate_burst=1000)))


def _health_once_warmed(url: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    with client(url) as http:
        while True:
            health: dict[str, Any] = http.get("/health").json()
            if health["forecaster"] != "warming" or time.monotonic() > deadline:
                return health
            time.sleep(0.05)


def _pair(settings: Settings) -> dict[str, str]:
    """An artist and venue of the warehouse, and a date after its last completed concert (read
    before the server opens the file)."""
    import duckdb

    with duckdb.connect(str(settings.warehouse_file), read_only=True) as con:
        artist, venue, day = con.execute(
            "SELECT a.name, v.name, (SELECT max(event_date) FROM concert_performance "
            "WHERE status = 'completed') + INTERVAL 60 DAY FROM concerts c "
            "JOIN artists a USING (artist_id) JOIN venues v USING (venue_id) "
            "ORDER BY c.concert_id LIMIT 1"
        ).fetchall()[0]
    return {"artist": artist, "venue": venue, "date": day.date().isoformat()}


def _forecast(url: str, token: str, pair: dict[str, str]) -> httpx.Response:
    with client(url, token) as http:
        return http.get("/v1/predictions/ticket-sales", params=pair)


@pytest.fixture
def warehouse(trained_warehouse: Settings, tmp_path: Path) -> Settings:
    return _warehouse(trained_warehouse, tmp_path)


@pytest.fixture
def pair(warehouse: Settings) -> dict[str, str]:
    return _pair(warehouse)


def test_the_forecaster_is_warm_after_start_so_the_first_forecast_loads_nothing(
    warehouse: Settings, pair: dict[str, str], loads: Loads
) -> None:
    with _serve(warehouse) as url:
        # no request asked for a forecast: the server loaded the model on its own
        assert _health_once_warmed(url)["forecaster"] == "warm"
        assert loads.threads == ["encore-warmup"]
        response = _forecast(url, login(url, "ana"), pair)
    assert response.status_code == 200, response.text
    assert response.json()["tickets_sold"] > 0
    assert loads.threads == ["encore-warmup"]  # the request itself unpickled nothing


def test_a_forecast_during_the_warm_up_waits_for_it_instead_of_loading_again(
    warehouse: Settings, pair: dict[str, str], loads: Loads
) -> None:
    loads.gate.clear()  # the warm-up stops inside the model load until the gate opens
    with _serve(warehouse) as url, ThreadPoolExecutor(1) as pool:
        deadline = time.monotonic() + 30
        while not loads.threads and time.monotonic() < deadline:
            time.sleep(0.02)
        with client(url) as http:
            assert http.get("/health").json()["forecaster"] == "warming"  # and it answers
        pending = pool.submit(_forecast, url, login(url, "ana"), pair)
        time.sleep(1.0)  # time for the request to reach a load of its own, were it to do one
        assert not pending.done()
        loads.gate.set()
        response = pending.result(timeout=60)
    assert response.status_code == 200, response.text
    assert loads.threads == ["encore-warmup"]


def test_a_failed_warm_up_is_reported_and_forecasts_load_the_model_themselves(
    warehouse: Settings, pair: dict[str, str], loads: Loads
) -> None:
    loads.fail_first = True
    with _serve(warehouse) as url:
        assert _health_once_warmed(url)["forecaster"] == "failed"
        response = _forecast(url, login(url, "ana"), pair)
    assert response.status_code == 200, response.text
    assert len(loads.threads) == 2 and loads.threads[0] == "encore-warmup"


def test_without_a_trained_forecaster_the_start_trains_none(
    trained_warehouse: Settings, tmp_path: Path
) -> None:
    settings = _warehouse(trained_warehouse, tmp_path, models=False)
    with _serve(settings) as url:
        assert _health_once_warmed(url)["forecaster"] == "untrained"
    assert not (settings.models_dir / "sales_forecast").exists()
