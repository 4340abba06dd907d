"""What a producer and a consumer group notice, run against the local log and Kinesis alike."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

from core.errors import ValidationError
from pipelines.stream import StreamRecord
from tests.conftest import PROJECT_ROOT
from tests.pipelines.stream.conftest import StreamUnderTest


def _sales(n: int, keys: int = 7, start: int = 0) -> list[tuple[str, dict[str, object]]]:
    return [
        (f"concert-{i % keys}", {"sale_id": f"s{i}", "quantity": i % 4 + 1, "price": 42.5})
        for i in range(start, start + n)
    ]


def _sale_ids(sales: list[tuple[str, dict[str, object]]]) -> list[str]:
    return sorted(str(value["sale_id"]) for _, value in sales)


def _ids(records: list[StreamRecord]) -> list[str]:
    return [str(r.value["sale_id"]) for r in records]


def _where(records: list[StreamRecord]) -> set[tuple[str, str]]:
    return {(r.partition, r.position) for r in records}


def test_produce_read_commit_round_trip(stream: StreamUnderTest) -> None:
    produced = stream.first.produce(_sales(12))
    assert _ids(produced) == [f"s{i}" for i in range(12)]

    read = stream.first.read("loader")
    assert sorted(_ids(read)) == sorted(_ids(produced))
    by_where = {(r.partition, r.position): r for r in produced}
    for record in read:
        twin = by_where[(record.partition, record.position)]
        assert (record.key, record.value, record.stream) == (twin.key, twin.value, twin.stream)
        assert record.produced_at.tzinfo is not None

    stream.first.commit("loader", read)
    assert stream.first.read("loader") == []


def test_a_key_always_lands_in_the_same_partition(stream: StreamUnderTest) -> None:
    first = stream.first.produce(_sales(20, keys=10))
    again = stream.open().produce(_sales(20, keys=10, start=20))
    partition_of: dict[str, set[str]] = defaultdict(set)
    for record in first + again:
        partition_of[record.key].add(record.partition)
    assert all(len(parts) == 1 for parts in partition_of.values())
    assert len({p for parts in partition_of.values() for p in parts}) > 1, "keys should spread"


def test_records_keep_their_order_within_a_partition(stream: StreamUnderTest) -> None:
    for chunk in range(4):
        stream.first.produce(_sales(10, keys=3, start=chunk * 10))
    seen: list[StreamRecord] = []
    stream.first.consume("ordered", seen.extend, max_records=7, idle_timeout_s=0)

    assert len(seen) == 40
    by_partition: dict[str, list[int]] = defaultdict(list)
    by_key: dict[str, list[int]] = defaultdict(list)
    for record in seen:
        by_partition[record.partition].append(int(record.position))
        by_key[record.key].append(int(str(record.value["sale_id"])[1:]))
    assert all(p == sorted(p) and len(set(p)) == len(p) for p in by_partition.values())
    assert all(ids == sorted(ids) for ids in by_key.values()), "per-key production order"


def test_a_failing_handler_gets_the_same_records_again(stream: StreamUnderTest) -> None:
    stream.first.produce(_sales(5))

    def explode(batch: list[StreamRecord]) -> None:
        raise RuntimeError("warehouse is down")

    with pytest.raises(RuntimeError, match="warehouse is down"):
        stream.first.consume("loader", explode, idle_timeout_s=0)
    assert sorted(_ids(stream.first.read("loader"))) == _sale_ids(_sales(5))

    delivered: list[StreamRecord] = []
    assert stream.first.consume("loader", delivered.extend, idle_timeout_s=0) == 5
    assert sorted(_ids(delivered)) == _sale_ids(_sales(5))
    assert stream.first.consume("loader", delivered.extend, idle_timeout_s=0) == 0


def test_commit_moves_only_the_partitions_given_and_never_back(stream: StreamUnderTest) -> None:
    stream.first.produce(_sales(14))
    read = stream.first.read("loader")
    partition = read[0].partition
    mine = [r for r in read if r.partition == partition]

    stream.first.commit("loader", mine[:2])
    rest = stream.first.read("loader")
    assert _where(rest) == _where(read) - _where(mine[:2])

    stream.first.commit("loader", mine[:1])  # an older commit arriving late changes nothing
    assert _where(stream.first.read("loader")) == _where(rest)


def test_consumer_groups_are_independent(stream: StreamUnderTest) -> None:
    stream.first.produce(_sales(6))
    stream.first.consume("loader", lambda batch: None, idle_timeout_s=0)
    assert len(stream.first.read("recommender")) == 6
    assert stream.first.read("loader") == []


def test_checkpoints_survive_a_restart(stream: StreamUnderTest) -> None:
    stream.first.produce(_sales(10))
    handled: list[StreamRecord] = []
    stream.first.consume("loader", handled.extend, max_batches=1, max_records=4)
    assert len(handled) == 4

    restarted = stream.open()
    rest = restarted.read("loader")
    assert len(rest) == 6
    assert not _where(rest) & _where(handled)
    restarted.produce(_sales(3, start=10))
    assert len(restarted.read("loader")) == 9


def test_max_records_is_shared_fairly_between_partitions(stream: StreamUnderTest) -> None:
    produced = stream.first.produce([("busy", {"i": i}) for i in range(40)])
    busy = produced[0].partition
    quiet_key = next(
        key
        for key in (f"quiet-{i}" for i in range(100))
        if stream.first.produce([(key, {"i": -1})])[0].partition != busy
    )
    batch = stream.first.read("loader", max_records=10)
    assert len(batch) == 10
    assert quiet_key in {r.key for r in batch}


def test_lag_counts_uncommitted_records_per_partition(stream: StreamUnderTest) -> None:
    assert sum(stream.first.lag("loader").values()) == 0
    produced = stream.first.produce(_sales(12))
    expected: dict[str, int] = defaultdict(int)
    for record in produced:
        expected[record.partition] += 1
    lag = stream.first.lag("loader")
    assert {p: n for p, n in lag.items() if n} == dict(expected)

    stream.first.consume("loader", lambda batch: None, max_batches=1, max_records=5)
    assert sum(stream.first.lag("loader").values()) == 7
    stream.first.consume("loader", lambda batch: None, idle_timeout_s=0)
    assert set(stream.open().lag("loader").values()) == {0}


def test_a_bad_record_writes_nothing(stream: StreamUnderTest) -> None:
    with pytest.raises(ValidationError, match="keys must be strings"):
        stream.first.produce([("ok", {"a": 1}), ("", {"a": 2})])
    with pytest.raises(ValidationError, match="ISO strings"):
        stream.first.produce([("ok", {"when": object()})])
    with pytest.raises(ValidationError, match="at most"):
        stream.first.produce([("big", {"blob": "x" * (1024 * 1024)})])
    assert stream.first.read("loader") == []


def test_a_record_of_another_stream_cannot_be_committed(stream: StreamUnderTest) -> None:
    stream.first.produce(_sales(1))
    record = stream.first.read("loader")[0]
    foreign = StreamRecord("other", record.partition, "0", "k", {}, record.produced_at)
    with pytest.raises(ValidationError, match="other"):
        stream.first.commit("loader", [foreign])


def test_an_idle_consumer_returns(stream: StreamUnderTest) -> None:
    started = time.monotonic()
    assert stream.first.consume("loader", lambda batch: None, idle_timeout_s=0.3) == 0
    assert 0.3 <= time.monotonic() - started < 15  # it returns (well before this on a calm machine)


def _wait_for(path: Path, proc: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"consumer exited early: {proc.stderr.read().decode()[-3000:]}")  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "consumer never reached its second batch"
        time.sleep(0.05)


def test_a_consumer_killed_mid_batch_gets_that_batch_again(
    stream: StreamUnderTest, tmp_path: Path
) -> None:
    produced = stream.first.produce(_sales(10))
    workdir = tmp_path / "consumer"
    workdir.mkdir()
    spec = {**stream.spec, "workdir": str(workdir), "group": "loader", "max_records": 3}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.pipelines.stream.consumer_proc", json.dumps(spec)],
        cwd=PROJECT_ROOT,
        env=os.environ.copy(),
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for(workdir / "in_flight.json", proc)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stderr.close()  # type: ignore[union-attr]
    assert proc.returncode == -signal.SIGKILL

    handled = {tuple(x) for x in json.loads((workdir / "handled.json").read_text())}
    in_flight = {tuple(x) for x in json.loads((workdir / "in_flight.json").read_text())}
    assert len(handled) == 3 and len(in_flight) == 3

    redelivered = _where(stream.open().read("loader"))
    assert in_flight <= redelivered, "the batch being handled at the kill comes back"
    assert not handled & redelivered, "the committed batch does not"
    assert handled | redelivered == _where(produced)
