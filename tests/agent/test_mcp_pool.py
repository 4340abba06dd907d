"""The MCP pool's policy with more users than slots: what it stops, what it waits for.

A user notices a restart as seconds added to a turn, so these count starts. The clients are
`PooledMCPClient`s whose start and stop only flip a flag (a real server takes seconds to start;
tests/agent/test_build.py runs real ones through the same pool).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from agent.build import PooledMCPClient, _ClientPool


class FakeClient(PooledMCPClient):
    def __init__(self, user: str) -> None:
        super().__init__(("data", "wh", "analyst", user), "a fake", transport_callable=lambda: None)
        self.up = False

    def start(self) -> Any:
        self.up = True
        return self

    def stop(self, *exc: Any) -> None:
        self.up = False

    def running(self) -> bool:
        return self.up


@pytest.fixture
def pool() -> Iterator[_ClientPool]:
    made = _ClientPool(max_live=2, idle_s=600.0, slot_wait_s=5.0)
    yield made
    made.close()


def _call(pool: _ClientPool, client: FakeClient) -> None:
    """One tool call: the client runs (starting if needed) for the call's length."""
    pool.acquire(client)
    pool.release(client)


def _users(pool: _ClientPool, *names: str) -> list[FakeClient]:
    return [pool.client(("data", "wh", "analyst", n), lambda n=n: FakeClient(n)) for n in names]  # type: ignore[misc]


def test_a_turn_keeps_its_server_between_its_tool_calls(pool: _ClientPool) -> None:
    ana, bo, cy = _users(pool, "ana", "bo", "cy")
    pool.hold(ana)  # ana's turn: a tool call, then the model thinks, then another call
    _call(pool, ana)
    _call(pool, bo)
    started = threading.Thread(target=_call, args=(pool, cy))
    started.start()  # cy's first call: the pool is full, bo is idle and held by no turn
    started.join(timeout=5)
    assert not started.is_alive()
    assert ana.running() and cy.running() and not bo.running()  # bo made room, not ana
    _call(pool, ana)  # ana's second call of the same turn
    assert ana.starts == 1
    pool.unhold(ana)


def test_the_server_idle_longest_makes_room(pool: _ClientPool) -> None:
    ana, bo, cy = _users(pool, "ana", "bo", "cy")
    _call(pool, ana)
    _call(pool, bo)
    _call(pool, ana)  # ana used again after bo: bo has been idle longer
    _call(pool, cy)
    assert {c.key[3] for c in pool.live()} == {"ana", "cy"}
    assert (ana.starts, bo.starts, cy.starts) == (1, 1, 1)


def test_a_start_waits_for_a_turn_to_end_rather_than_stop_a_busy_server(
    pool: _ClientPool,
) -> None:
    ana, bo, cy = _users(pool, "ana", "bo", "cy")
    for client in (ana, bo):
        pool.hold(client)
        _call(pool, client)
    waiting = threading.Thread(target=_call, args=(pool, cy))
    waiting.start()
    time.sleep(0.3)
    assert waiting.is_alive() and not cy.running()  # both slots are in running turns
    assert len(pool.live()) == 2 and ana.running() and bo.running()
    pool.unhold(bo)  # bo's turn ends: cy takes its slot
    waiting.join(timeout=5)
    assert not waiting.is_alive() and cy.running() and not bo.running() and ana.running()
    assert len(pool.live()) == 2
    pool.unhold(ana)


def test_past_the_wait_a_turn_starts_beyond_the_bound_and_the_extra_stops_after(
    pool: _ClientPool,
) -> None:
    pool.slot_wait_s = 0.2
    ana, bo, cy = _users(pool, "ana", "bo", "cy")
    for client in (ana, bo):
        pool.hold(client)
        _call(pool, client)
    began = time.monotonic()
    pool.hold(cy)
    _call(pool, cy)  # no turn ended in time: cy is not left waiting longer
    assert 0.2 <= time.monotonic() - began < 3
    assert cy.running() and len(pool.live()) == 3
    pool.unhold(cy)  # the extra server goes once nothing needs it
    assert len(pool.live()) == 2 and not cy.running()
    pool.unhold(ana)
    pool.unhold(bo)


def test_more_users_than_slots_in_turns_at_once_restart_once_per_turn_at_most(
    pool: _ClientPool,
) -> None:
    """Three users in turns of three tool calls on two slots: a turn starts its server at most
    once (before, a turn's server could be stopped between its calls and start again)."""
    clients = _users(pool, "ana", "bo", "cy")
    turns = 6

    def user(client: FakeClient) -> None:
        for _ in range(turns):
            pool.hold(client)
            try:
                for _ in range(3):
                    _call(pool, client)
                    time.sleep(0.01)  # the model between calls
            finally:
                pool.unhold(client)

    threads = [threading.Thread(target=user, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert all(c.starts <= turns for c in clients)
    assert len(pool.live()) <= 2
