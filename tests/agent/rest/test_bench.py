"""`python -m agent.rest.bench` times the API over loopback HTTP: its token must be accepted (the
API takes a token's user from the store, so the bench's user is added for the run only)."""

from __future__ import annotations

from pathlib import Path

from agent.rest.bench import BENCH_USER, bench_api
from agent.ui.auth import UserStore
from core.settings import Settings
from tests.conftest import copy_warehouse


def test_the_api_bench_is_answered_and_leaves_no_user_behind(
    small_warehouse: Settings, tmp_path: Path
) -> None:
    settings = copy_warehouse(small_warehouse, tmp_path)
    UserStore(settings).add("ana", "a long password", role="partner")
    figures = bench_api(settings, rounds=3)
    assert figures["rounds"] == 3
    for path in ("me_http", "rankings_http", "query_http", "rankings_in_process"):
        assert figures[path]["p50_ms"] > 0, figures
    assert [u.name for u in UserStore(settings).users()] == ["ana"]
    assert UserStore(settings).user(BENCH_USER) is None
