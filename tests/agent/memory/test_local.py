"""The local memory store: preferences, events, retention, isolation, several processes."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from agent.memory.extract import extract_preferences
from agent.memory.local import LocalMemory
from core.errors import ValidationError


def test_preferences_accumulate_replace_and_are_forgotten(tmp_path: Path) -> None:
    memory = LocalMemory(tmp_path)
    memory.set_preference("ana", "genres", ["rock"])
    memory.set_preference("ana", "genres", ["Rock", "alternative"])
    memory.set_preference("ana", "city", "Chicago")
    memory.set_preference("ana", "city", "Austin")
    memory.set_preference("ana", "budget", "$80")
    prefs = memory.preferences("ana")
    assert prefs.genres == ["rock", "alternative"] and prefs.city == "Austin"
    assert prefs.budget == 80.0
    assert memory.forget("ana", "budget").budget is None
    assert memory.preferences("ana").city == "Austin"
    assert memory.forget("ana").is_empty() and memory.preferences("ana").is_empty()
    with pytest.raises(ValidationError, match="unknown preference kind 'mood'"):
        memory.set_preference("ana", "mood", "happy")  # type: ignore[arg-type]


def test_users_are_isolated(tmp_path: Path) -> None:
    memory = LocalMemory(tmp_path)
    memory.set_preference("a", "genres", ["jazz"])
    memory.add_event("a", "s1", "user", "secret plan")
    assert memory.preferences("b").is_empty()
    assert memory.events("b", "s1") == []
    memory.forget("b")
    assert memory.preferences("a").genres == ["jazz"]


def test_retention_by_count_and_age(tmp_path: Path) -> None:
    memory = LocalMemory(tmp_path, max_events=3, max_age_days=1)
    for i in range(5):
        memory.add_event("a", "s", "user", f"m{i}")
    assert [e.text for e in memory.events("a", "s")] == ["m2", "m3", "m4"]
    assert memory.purge(now=dt.datetime.now(dt.UTC) + dt.timedelta(days=2)) == 3
    assert memory.events("a", "s") == []


def _writer(directory: str, user: str) -> None:
    memory = LocalMemory(Path(directory))
    for i in range(20):
        memory.set_preference(user, "artists", [f"{user}-{i}"])
        memory.add_event(user, "s", "user", str(i))


def test_several_processes_share_one_store(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), u)) for u in ("p", "q", "r")]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    memory = LocalMemory(tmp_path)
    for user in ("p", "q", "r"):
        assert len(memory.preferences(user).artists) == 20  # no lost read-modify-write
        assert len(memory.events(user, "s", limit=100)) == 20


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I live in Chicago", [("city", "Chicago")]),
        ("I love jazz", [("genres", ["jazz"])]),
        ("my budget is $80", [("budget", 80.0)]),
        ("I like rock and alternative music. What should I see?",
         [("genres", ["rock", "alternative"])]),
        ("I live in austin, TX", [("city", "Austin"), ("state", "TX")]),
        ("My favorite band is Radiohead", [("artists", ["Radiohead"])]),
        ("Which venues sold best in 2024?", []),
        ("I like big arenas", []),
    ],
)  # fmt: skip
def test_preferences_are_taken_from_what_users_say(text: str, expected: list[object]) -> None:
    assert extract_preferences(text) == expected


def test_turns_from_many_threads_are_all_kept(tmp_path: Path) -> None:
    """Strands runs tools on worker threads; one store serves them all without losing a write."""
    memory = LocalMemory(tmp_path, max_events=1000)

    def turn(i: int) -> None:
        memory.add_event(f"u{i % 4}", "s", "user", f"q{i}")
        memory.set_preference(f"u{i % 4}", "artists", [f"a{i}"])
        memory.events(f"u{i % 4}", "s")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(turn, range(200)))
    for user in ("u0", "u1", "u2", "u3"):
        assert len(memory.events(user, "s", limit=100)) == 50
        assert len(memory.preferences(user).artists) == 50


def test_storing_an_event_is_fast(tmp_path: Path) -> None:
    """One kept connection: 300 events take a fraction of a second (a connection per event
    took 6-18 ms each, i.e. 2-5 s)."""
    memory = LocalMemory(tmp_path, max_events=100)
    started = time.perf_counter()
    for i in range(300):
        memory.add_event("a", "s", "user", f"m{i}")
    assert time.perf_counter() - started < 1.5
    assert len(memory.events("a", "s", limit=1000)) == 100  # count retention still applies


def test_a_closed_store_reopens_and_keeps_its_data(tmp_path: Path) -> None:
    memory = LocalMemory(tmp_path)
    memory.add_event("a", "s", "user", "hello")
    memory.close()
    assert [e.text for e in memory.events("a", "s")] == ["hello"]
    assert memory.forget("a").is_empty() and memory.events("a", "s") == []
