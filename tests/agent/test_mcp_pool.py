"""The MCP pool's policy with more active users than `max_live`: what it keeps, stops, waits for.

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
    made = _ClientPool(max_live=2, idle_s=600.0, slot_wait_s=5.0, linger_s=30.0)  # hard limit 3
    yield made
    made.close()


def _call(pool: _ClientPool, client: FakeClient) -> None:
    """One tool call: the client runs (starting if needed) for the call's length."""
    pool.acquire(client)
    pool.release(client)


def _turn(pool: _ClientPool, client: FakeClient) -> None:
    pool.hold(client)
    _call(pool, client)


def _users(pool: _ClientPool, *names: str) -> list[FakeClient]:
    return [pool.client(("data", "wh", "analyst", n), lambda n=n: FakeClient(n)) for n in names]  # type: ignore[misc]


def _live(pool: _ClientPool) -> set[str]:
    return {c.key[3] for c in pool.live()}


def _eventually(check: Any, limit_s: float = 5.0) -> bool:
    deadline = time.monotonic() + limit_s
    while not check() and time.monotonic() < deadline:
        time.sleep(0.02)
    return bool(check())


def test_a_turn_keeps_its_server_between_its_tool_calls(pool: _ClientPool) -> None:
    pool.linger_s = 0.0  # every idle server may give up its slot at once
    ana, bo, cy = _users(pool, "ana", "bo", "cy")
    _turn(pool, ana)  # ana's turn: a tool call, then the model thinks, then another call
    _call(pool, bo)
    _call(pool, cy)  # the pool is full: bo is idle and held by no turn
    assert ana.running() and cy.running() and not bo.running()  # bo made room, not ana
    _call(pool, ana)  # ana's second call of the same turn
    assert ana.starts == 1
    pool.unhold(ana)


def test_users_between_turns_keep_their_servers_while_more_are_active(pool: _ClientPool) -> None:
    ana, bo, cy = _users(pool, "ana", "bo", "cy")
    for client in (ana, bo, cy, ana, bo, cy):  # three users taking turns on two slots
        _call(pool, client)
    assert _live(pool) == {"ana", "bo", "cy"}  # a burst: no restart between turns
    assert (ana.starts, bo.starts, cy.starts) == (1, 1, 1)
    pool.linger_s = 0.1  # then the users go quiet: back to max_live, the longest idle out
    pool._wake.set()
    assert _eventually(lambda: _live(pool) == {"bo", "cy"}), _live(pool)


def test_the_user_idle_longest_gives_up_the_slot(pool: _ClientPool) -> None:
    pool.linger_s = 0.1
    ana, bo, cy = _users(pool, "ana", "bo", "cy")
    _call(pool, ana)
    _call(pool, bo)
    time.sleep(0.15)
    _call(pool, ana)  # ana is back; bo has been idle longer than linger_s
    _call(pool, cy)
    assert _live(pool) == {"ana", "cy"}
    assert (ana.starts, bo.starts, cy.starts) == (1, 1, 1)


def test_at_the_hard_limit_a_start_waits_for_a_turn_to_end(pool: _ClientPool) -> None:
    ana, bo, cy, dee = _users(pool, "ana", "bo", "cy", "dee")
    for client in (ana, bo, cy):  # three turns running: the hard limit of a pool of 2
        _turn(pool, client)
    waiting = threading.Thread(target=_call, args=(pool, dee))
    waiting.start()
    time.sleep(0.3)
    assert waiting.is_alive() and not dee.running()  # no running turn's server is stopped
    assert _live(pool) == {"ana", "bo", "cy"}
    pool.unhold(bo)  # bo's turn ends: dee takes its slot
    waiting.join(timeout=5)
    assert not waiting.is_alive() and _live(pool) == {"ana", "cy", "dee"}
    for client in (ana, cy):
        pool.unhold(client)


def test_past_the_wait_a_turn_starts_anyway_and_that_server_stops_after(
    pool: _ClientPool,
) -> None:
    pool.slot_wait_s = 0.2
    ana, bo, cy, dee = _users(pool, "ana", "bo", "cy", "dee")
    for client in (ana, bo, cy):
        _turn(pool, client)
    began = time.monotonic()
    _turn(pool, dee)  # no turn ended in time: dee is not left waiting longer
    assert 0.2 <= time.monotonic() - began < 3
    assert dee.running() and len(pool.live()) == 4
    pool.unhold(dee)  # the server beyond the hard limit goes once nothing needs it
    assert len(pool.live()) == 3 and not dee.running()
    for client in (ana, bo, cy):
        pool.unhold(client)


@pytest.mark.parametrize("users", [3, 4])
def test_users_in_turns_at_once_restart_at_most_once_a_turn(pool: _ClientPool, users: int) -> None:
    """Users in turns of three tool calls on two slots: up to the hard limit (3) nobody's server
    restarts; past it, a turn starts its server at most once (before, a turn's server could be
    stopped between its calls)."""
    clients = _users(pool, *(f"u{i}" for i in range(users)))
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
    limit = 1 if users <= pool.hard_limit() else turns
    assert all(c.starts <= limit for c in clients), [c.starts for c in clients]
    assert len(pool.live()) <= pool.hard_limit()
