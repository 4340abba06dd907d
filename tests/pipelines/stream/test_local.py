"""The local log's own promises: its files, crash recovery, the producer lock and seeking."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from core.errors import ConfigError, SourceError
from core.settings import Settings
from pipelines.stream import LocalStream, open_stream
from pipelines.stream.base import partition_index


def _partition_file(stream: LocalStream, partition: str) -> Path:
    return stream.directory / "partitions" / f"{partition}.jsonl"


def test_open_stream_keeps_the_log_under_the_data_dir(settings: Settings) -> None:
    stream = open_stream(settings, "ticket-sales")
    produced = stream.produce([("concert-1", {"sale_id": "s1"})])
    assert isinstance(stream, LocalStream)
    directory = settings.data_dir / "stream" / "ticket-sales"
    assert stream.directory == directory
    line = (directory / "partitions" / f"{produced[0].partition}.jsonl").read_text()
    assert json.loads(line) == {
        "o": 0,
        "k": "concert-1",
        "t": produced[0].produced_at.isoformat(),
        "v": {"sale_id": "s1"},
    }


def test_keys_hash_to_partitions_as_kinesis_maps_them_to_shards(tmp_path: Path) -> None:
    stream = LocalStream(tmp_path, "s", partitions=4)
    produced = stream.produce([(f"artist-{i}", {}) for i in range(40)])
    assert all(int(r.partition) == partition_index(r.key, 4) for r in produced)
    assert partition_index("artist-7", 4) == partition_index("artist-7", 4)


def test_a_torn_last_line_is_ignored_then_replaced(tmp_path: Path) -> None:
    stream = LocalStream(tmp_path, "s", partitions=1)
    stream.produce([("k", {"n": n}) for n in range(3)])
    path = _partition_file(stream, "0")
    with path.open("ab") as handle:  # what a producer killed mid-write leaves behind
        handle.write(b'{"o":3,"k":"k","t":"2026-11-')

    restarted = LocalStream(tmp_path, "s")
    assert [r.value["n"] for r in restarted.read("g")] == [0, 1, 2]
    assert restarted.lag("g") == {"0": 3}

    assert restarted.produce([("k", {"n": 3})])[0].position == "3"
    assert [r.value["n"] for r in restarted.read("g")] == [0, 1, 2, 3]
    assert all(json.loads(line) for line in path.read_text().splitlines())


def test_a_corrupt_complete_line_is_an_error_not_a_silent_skip(tmp_path: Path) -> None:
    stream = LocalStream(tmp_path, "s", partitions=1)
    stream.produce([("k", {"n": 0})])
    with _partition_file(stream, "0").open("ab") as handle:
        handle.write(b"not json\n")
    with pytest.raises(SourceError, match="corrupt"):
        LocalStream(tmp_path, "s").read("g")


def test_the_partition_count_is_fixed_at_creation(tmp_path: Path) -> None:
    LocalStream(tmp_path, "s", partitions=3)
    assert LocalStream(tmp_path, "s").partitions == 3
    with pytest.raises(ConfigError, match="has 3 partitions"):
        LocalStream(tmp_path, "s", partitions=4)
    with pytest.raises(ConfigError, match="at least one"):
        LocalStream(tmp_path, "t", partitions=0)


def test_concurrent_producers_get_dense_unique_offsets(tmp_path: Path) -> None:
    def produce(worker: int) -> None:
        stream = LocalStream(tmp_path, "s", partitions=2)  # each opens its own lock handle
        for batch in range(25):
            stream.produce([(f"k{i}", {"w": worker, "b": batch}) for i in range(4)])

    threads = [threading.Thread(target=produce, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    records = LocalStream(tmp_path, "s").read("g", max_records=1000)
    assert len(records) == 400
    for partition in ("0", "1"):
        offsets = [int(r.position) for r in records if r.partition == partition]
        assert offsets == list(range(len(offsets)))


def test_reads_resume_at_any_offset_across_index_strides(tmp_path: Path) -> None:
    writer = LocalStream(tmp_path, "s", partitions=1)
    writer.produce([("k", {"n": n}) for n in range(1300)])
    reader = LocalStream(tmp_path, "s")
    seen: list[int] = []
    reader.consume(
        "g",
        lambda batch: seen.extend(int(r.value["n"]) for r in batch),
        max_records=97,
        idle_timeout_s=0,
    )
    assert seen == list(range(1300))

    fresh = LocalStream(tmp_path, "s")  # no index yet: it scans, then seeks
    fresh.checkpoints.advance("h", {"0": "1099"})
    assert [r.value["n"] for r in fresh.read("h", max_records=3)] == [1100, 1101, 1102]
    fresh.checkpoints.advance("h", {"0": "1199"})
    assert [r.value["n"] for r in fresh.read("h", max_records=2)] == [1200, 1201]


def test_a_reader_sees_nothing_of_a_stream_never_written(tmp_path: Path) -> None:
    stream = LocalStream(tmp_path, "empty")
    assert stream.read("g") == []
    assert stream.lag("g") == {"0": 0, "1": 0, "2": 0, "3": 0}
