"""The embedded stream: a durable append-only log per partition, as JSON lines carrying offsets.

Layout under `<root>/<name>/`:

    stream.json               the partition count, fixed at creation because keys hash by it
    partitions/<p>.jsonl      one record per line: {"o": offset, "k": key, "t": time, "v": value}
    checkpoints/<group>.json  committed offsets (see `CheckpointStore`)
    .producer.lock            flock held while appending

A produce returns after fsync. A crash mid-append can leave an incomplete last line: readers stop
before it, and the next producer truncates it before appending, so offsets stay dense. Producers in
any number of processes serialise on the lock; readers take no lock and see only complete lines,
so one consumer process per group can run beside the producers.
"""

from __future__ import annotations

import bisect
import fcntl
import json
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from core.errors import ConfigError, SourceError, ValidationError
from pipelines.stream.base import (
    CheckpointStore,
    Stream,
    StreamRecord,
    check_name,
    encode_record,
    fsync_dir,
    gather,
    highest_positions,
    partition_index,
    position_key,
    write_json_atomic,
)

logger = logging.getLogger(__name__)

DEFAULT_PARTITIONS = 4
INDEX_EVERY = 512
"""Remember the byte position of every 512th offset, so a read seeks instead of scanning."""
_CHUNK = 64 * 1024


def _rfind_newline(handle: BinaryIO, before: int) -> int:
    """Byte index of the last newline before byte `before`, or -1."""
    pos = before
    while pos > 0:
        size = min(_CHUNK, pos)
        pos -= size
        handle.seek(pos)
        found = handle.read(size).rfind(b"\n")
        if found >= 0:
            return pos + found
    return -1


def _tail(handle: BinaryIO, path: Path) -> tuple[int, int]:
    """`(end of the last complete line, next offset)` of a partition file."""
    end = _rfind_newline(handle, handle.seek(0, os.SEEK_END))
    if end < 0:
        return 0, 0
    start = _rfind_newline(handle, end) + 1
    handle.seek(start)
    try:
        offset = int(json.loads(handle.read(end + 1 - start))["o"])
    except (ValueError, KeyError, TypeError) as exc:
        raise SourceError(
            f"the last record of {path} is corrupt; restore the file from a backup",
            path=str(path),
            byte=start,
        ) from exc
    return end + 1, offset + 1


class _PartitionLog:
    """One partition file, with a sparse in-memory index from offset to byte position."""

    def __init__(self, stream: str, partition: str, path: Path) -> None:
        self.stream = stream
        self.partition = partition
        self.path = path
        # complete lines never move (only an incomplete tail is ever cut), so positions stay valid
        self._offsets = [0]
        self._positions = [0]
        self._frontier = (0, 0)

    def _remember(self, offset: int, position: int) -> None:
        if offset % INDEX_EVERY == 0 and offset > self._offsets[-1]:
            self._offsets.append(offset)
            self._positions.append(position)
        if offset > self._frontier[0]:
            self._frontier = (offset, position)

    def _seek_point(self, offset: int) -> tuple[int, int]:
        i = bisect.bisect_right(self._offsets, offset) - 1
        best = (self._offsets[i], self._positions[i])
        # a consumer reads on from where its last read ended: the frontier is usually exact
        return self._frontier if best[0] < self._frontier[0] <= offset else best

    def _decode(self, line: bytes, offset: int, position: int) -> StreamRecord:
        try:
            entry = json.loads(line)
            record = StreamRecord(
                stream=self.stream,
                partition=self.partition,
                position=str(offset),
                key=entry["k"],
                value=entry["v"],
                produced_at=datetime.fromisoformat(entry["t"]),
            )
            stored = entry["o"]
        except (ValueError, KeyError, TypeError) as exc:
            raise SourceError(
                f"record at byte {position} of {self.path} is corrupt; restore the file",
                path=str(self.path),
                byte=position,
            ) from exc
        if stored != offset:
            raise SourceError(
                f"{self.path} holds offset {stored} where {offset} was expected; the file was "
                "edited or corrupted",
                path=str(self.path),
                byte=position,
            )
        return record

    def read(self, start: int, limit: int) -> list[StreamRecord]:
        """Up to `limit` records from offset `start` on."""
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            return []
        offset, position = self._seek_point(start)
        records: list[StreamRecord] = []
        with handle:
            handle.seek(position)
            while len(records) < limit:
                line = handle.readline()
                if not line.endswith(b"\n"):
                    break  # the end, or a line still being written (or torn by a crash)
                if offset >= start:
                    records.append(self._decode(line, offset, position))
                offset += 1
                position += len(line)
                self._remember(offset, position)
        return records

    def end_offset(self) -> int:
        """The offset the next record will get."""
        try:
            with self.path.open("rb") as handle:
                return _tail(handle, self.path)[1]
        except FileNotFoundError:
            return 0

    def append(self, items: Sequence[tuple[str, bytes]], produced_at: str) -> int:
        """Append encoded `(key, value)` items durably; the first one's offset. Hold the lock."""
        created = not self.path.exists()
        with self.path.open("a+b") as handle:
            valid_end, first = _tail(handle, self.path)
            size = handle.seek(0, os.SEEK_END)
            if valid_end < size:
                logger.warning(
                    "%s: dropping a torn last line of %d bytes (a producer died mid-write)",
                    self.path,
                    size - valid_end,
                )
                handle.truncate(valid_end)
            stamp = json.dumps(produced_at).encode()
            handle.write(
                b"".join(
                    b'{"o":%d,"k":%s,"t":%s,"v":%s}\n'
                    % (first + i, json.dumps(key, ensure_ascii=False).encode(), stamp, data)
                    for i, (key, data) in enumerate(items)
                )
            )
            handle.flush()
            os.fsync(handle.fileno())
        if created:
            fsync_dir(self.path.parent)
        return first


def _next_offset(committed: str | None) -> int:
    return 0 if committed is None else position_key(committed) + 1


class LocalStream(Stream):
    """A stream in local files; `partitions` is fixed when the stream is first created.

    `produce` is safe from any thread or process; reads keep an in-memory index, so give each
    consuming thread its own instance.
    """

    def __init__(self, root: Path, name: str, partitions: int | None = None) -> None:
        self.name = check_name("stream", name)
        self.directory = root / name
        (self.directory / "partitions").mkdir(parents=True, exist_ok=True)
        self.partitions = self._open_meta(partitions)
        self._ids = [str(i) for i in range(self.partitions)]
        self._logs = {
            pid: _PartitionLog(name, pid, self.directory / "partitions" / f"{pid}.jsonl")
            for pid in self._ids
        }
        self.checkpoints = CheckpointStore(self.directory / "checkpoints", name)
        self._rotation = 0

    def __repr__(self) -> str:
        return f"LocalStream({str(self.directory)!r}, partitions={self.partitions})"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with (self.directory / ".producer.lock").open("a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _open_meta(self, partitions: int | None) -> int:
        if partitions is not None and partitions < 1:
            raise ConfigError(f"a stream needs at least one partition; got {partitions}")
        meta = self.directory / "stream.json"
        with self._locked():
            if meta.exists():
                try:
                    stored = int(json.loads(meta.read_text(encoding="utf-8"))["partitions"])
                except (ValueError, KeyError, TypeError) as exc:
                    raise ConfigError(
                        f"{meta} is unreadable; restore it with the stream's partition count",
                        path=str(meta),
                    ) from exc
                if partitions is not None and partitions != stored:
                    raise ConfigError(
                        f"stream {self.name!r} has {stored} partitions, not {partitions}; keys "
                        "hash by the count, so it cannot change: pass partitions=None",
                        path=str(meta),
                    )
                return stored
            count = partitions or DEFAULT_PARTITIONS
            write_json_atomic(meta, {"name": self.name, "partitions": count, "format": 1})
            logger.info("created local stream %s with %d partitions", self.directory, count)
            return count

    def produce(self, records: Iterable[tuple[str, dict[str, Any]]]) -> list[StreamRecord]:
        """Append `(key, value)` pairs durably; each key always lands in the same partition."""
        # encode everything first so one bad record writes nothing
        encoded = [(key, encode_record(key, value)) for key, value in records]
        if not encoded:
            return []
        produced_at = datetime.now(UTC)
        placed: dict[str, list[int]] = {}
        for i, (key, _) in enumerate(encoded):
            placed.setdefault(self._ids[partition_index(key, self.partitions)], []).append(i)
        positions: dict[int, tuple[str, int]] = {}
        with self._locked():
            for pid, indices in placed.items():
                first = self._logs[pid].append(
                    [encoded[i] for i in indices], produced_at.isoformat()
                )
                positions.update({i: (pid, first + n) for n, i in enumerate(indices)})
        logger.debug("produced %d records to %s", len(encoded), self.name)
        return [
            StreamRecord(self.name, pid, str(offset), key, json.loads(data), produced_at)
            for (key, data), (pid, offset) in zip(
                encoded, (positions[i] for i in range(len(encoded))), strict=True
            )
        ]

    def read(self, group: str, max_records: int = 500) -> list[StreamRecord]:
        """Records after `group`'s checkpoints, across partitions, in offset order within each."""
        committed = self.checkpoints.load(group)
        cursor = {pid: _next_offset(committed.get(pid)) for pid in self._ids}

        def fetch(pid: str, limit: int) -> list[StreamRecord]:
            records = self._logs[pid].read(cursor[pid], limit)
            cursor[pid] += len(records)
            return records

        start, self._rotation = self._rotation, (self._rotation + 1) % self.partitions
        return gather(self._ids, max_records, start, fetch)

    def commit(self, group: str, records: Sequence[StreamRecord]) -> None:
        """Advance `group`'s checkpoint of each partition to the highest offset in `records`."""
        highest = highest_positions(self.name, records)
        unknown = sorted(set(highest) - set(self._logs))
        if unknown:
            raise ValidationError(
                f"stream {self.name!r} has no partition {unknown[0]!r}",
                errors=[("partition", "unknown partition")],
            )
        self.checkpoints.advance(group, highest)

    def lag(self, group: str) -> dict[str, int]:
        """Records not yet committed by `group`, per partition."""
        committed = self.checkpoints.load(group)
        return {
            pid: max(0, log.end_offset() - _next_offset(committed.get(pid)))
            for pid, log in self._logs.items()
        }
