"""The stream interface: records, the `Stream` protocol with its consume loop, and checkpoints.

A stream is a set of partitions (Kinesis: shards), each an ordered log whose records carry a
position (a local offset or a Kinesis sequence number, both decimal strings). A consumer group
keeps one checkpoint per partition: the highest position it has committed. `read` returns what
lies after the checkpoints and `commit` moves them forward, so a record is redelivered until a
commit covers it (at-least-once).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from core.errors import SourceError, ValidationError

logger = logging.getLogger(__name__)

MAX_KEY_CHARS = 256
MAX_RECORD_BYTES = 1024 * 1024
"""Kinesis' per-record limit (data plus key); the local log enforces it too so nothing that works
on a laptop fails in production."""

T = TypeVar("T")
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")


@dataclass(frozen=True, slots=True)
class StreamRecord:
    """One record as stored: where it lives (partition, position), its key, value and time."""

    stream: str
    partition: str
    """Local: "0", "1", ...; Kinesis: the shard id."""
    position: str
    """Local: the 0-based offset in the partition; Kinesis: the sequence number."""
    key: str
    value: dict[str, Any]
    produced_at: datetime
    """When the record was appended (Kinesis: its approximate arrival time), in UTC."""


Handler = Callable[[list[StreamRecord]], None]


class Stream(Protocol):
    """A partitioned, durable stream with per-group checkpoints; see the module docstring.

    Implementations subclass it explicitly, so `consume` is written once, on `read` and `commit`.
    """

    name: str

    def produce(self, records: Iterable[tuple[str, dict[str, Any]]]) -> list[StreamRecord]:
        """Append `(key, value)` pairs, each to the partition its key hashes to, in order."""
        ...

    def read(self, group: str, max_records: int = 500) -> list[StreamRecord]:
        """Records after `group`'s checkpoints, across partitions, ordered within each."""
        ...

    def commit(self, group: str, records: Sequence[StreamRecord]) -> None:
        """Advance `group`'s checkpoint of each partition to the highest position in `records`."""
        ...

    def lag(self, group: str) -> dict[str, int]:
        """Records not yet committed by `group`, per partition."""
        ...

    def consume(
        self,
        group: str,
        handler: Handler,
        *,
        max_batches: int | None = None,
        max_records: int = 500,
        idle_timeout_s: float | None = 5.0,
        poll_interval_s: float = 0.2,
    ) -> int:
        """Feed batches to `handler`, committing each after it returns; the number handled.

        At-least-once: if `handler` raises, nothing of that batch is committed, the error
        propagates and the same records come back on the next read. Stops after `max_batches`
        batches, or once no record arrived for `idle_timeout_s` (None: never).
        """
        handled = batches = 0
        idle_since = time.monotonic()
        wait = poll_interval_s
        while max_batches is None or batches < max_batches:
            batch = self.read(group, max_records)
            if not batch:
                idle = time.monotonic() - idle_since
                if idle_timeout_s is not None and idle >= idle_timeout_s:
                    break
                left = math.inf if idle_timeout_s is None else idle_timeout_s - idle
                time.sleep(min(wait, left))
                # back off while idle so an empty stream costs few reads (Kinesis bills them)
                wait = min(wait * 2, max(poll_interval_s, 2.0))
                continue
            handler(batch)
            self.commit(group, batch)
            handled += len(batch)
            batches += 1
            idle_since = time.monotonic()
            wait = poll_interval_s
        logger.debug("group %s handled %d records in %d batches", group, handled, batches)
        return handled


def check_name(kind: str, name: str) -> str:
    """`name` if it is a safe stream or group name (it becomes a file or AWS name)."""
    if not _NAME.fullmatch(name) or name.startswith("."):
        raise ValidationError(
            f"{kind} name {name!r} must be 1-128 of A-Z a-z 0-9 _ . - and not start with '.'",
            errors=[(kind, "invalid name")],
        )
    return name


def position_key(position: str) -> int:
    """Sort key of a position: offsets and sequence numbers are both decimal strings."""
    return int(position)


def partition_index(key: str, partitions: int) -> int:
    """The partition `key` belongs to: MD5 into equal hash ranges, as Kinesis maps it to shards."""
    digest = hashlib.md5(key.encode(), usedforsecurity=False).digest()
    return (int.from_bytes(digest, "big") * partitions) >> 128


def encode_record(key: str, value: dict[str, Any]) -> bytes:
    """`value` as compact JSON bytes, after checking the key and value are storable."""
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_CHARS:
        raise ValidationError(
            f"stream keys must be strings of 1-{MAX_KEY_CHARS} characters; got {key!r:.80}",
            errors=[("key", "invalid key")],
        )
    if not isinstance(value, dict):
        raise ValidationError(
            f"stream values must be JSON objects (dict); got {type(value).__name__}",
            errors=[("value", "not an object")],
        )
    try:
        data = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"stream values must be JSON-serialisable (convert dates to ISO strings): {exc}",
            errors=[("value", str(exc))],
            key=key,
        ) from exc
    encoded = data.encode()
    if len(encoded) + len(key.encode()) > MAX_RECORD_BYTES:
        raise ValidationError(
            f"a stream record may hold at most {MAX_RECORD_BYTES} bytes; key {key!r} has "
            f"{len(encoded)}: split the value or store it in the lake and send its path",
            errors=[("value", "too large")],
            key=key,
        )
    return encoded


def highest_positions(stream: str, records: Sequence[StreamRecord]) -> dict[str, str]:
    """The highest position per partition among `records`, which must belong to `stream`."""
    highest: dict[str, str] = {}
    for record in records:
        if record.stream != stream:
            raise ValidationError(
                f"cannot commit a record of stream {record.stream!r} to stream {stream!r}",
                errors=[("stream", "wrong stream")],
            )
        current = highest.get(record.partition)
        if current is None or position_key(record.position) > position_key(current):
            highest[record.partition] = record.position
    return highest


def gather(
    partitions: Sequence[str], max_records: int, start: int, fetch: Callable[[str, int], list[T]]
) -> list[T]:
    """Up to `max_records` fetched across `partitions`, fairly, beginning at index `start`.

    `fetch(partition, limit)` must continue where its previous call for that partition stopped.
    Each partition may take its share of what is left, so a busy partition cannot starve the
    others; rounds repeat while budget remains and some partition filled its share. Rotating
    `start` between calls keeps any one partition from always going last.
    """
    if max_records < 1:
        raise ValueError(f"max_records must be at least 1; got {max_records}")
    active = [partitions[(start + i) % len(partitions)] for i in range(len(partitions))]
    out: list[T] = []
    while active and len(out) < max_records:
        full: list[str] = []
        for done, partition in enumerate(active):
            remaining = max_records - len(out)
            if remaining <= 0:
                break
            share = math.ceil(remaining / (len(active) - done))
            got = fetch(partition, share)
            out.extend(got)
            if len(got) == share:
                full.append(partition)  # it may hold more
        active = full
    return out


def fsync_dir(directory: Path) -> None:
    """Flush a directory entry (a created or renamed file) to disk."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    """Replace `path` with `payload` so a crash leaves either the old or the new file, whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp).unlink()
        raise
    fsync_dir(path.parent)


class CheckpointStore:
    """Committed positions per consumer group: one JSON file per group, replaced atomically."""

    def __init__(self, directory: Path, stream: str) -> None:
        self.directory = directory
        self.stream = stream

    def _path(self, group: str) -> Path:
        return self.directory / f"{check_name('group', group)}.json"

    def load(self, group: str) -> dict[str, str]:
        """The committed position per partition; partitions never committed are absent."""
        path = self._path(group)
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
            positions = payload["positions"]
            return {str(p): str(position_key(str(pos))) for p, pos in positions.items()}
        except FileNotFoundError:
            return {}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SourceError(
                f"checkpoint file {path} is unreadable; restore it or delete it to re-read "
                "the stream from the start",
                path=str(path),
            ) from exc

    def advance(self, group: str, positions: dict[str, str]) -> dict[str, str]:
        """Move the checkpoints forward to `positions` (never back); the stored result."""
        current = self.load(group)
        merged = dict(current)
        for partition, position in positions.items():
            old = merged.get(partition)
            if old is None or position_key(position) > position_key(old):
                merged[partition] = position
            elif position_key(position) < position_key(old):
                logger.debug("group %s: %s@%s is behind its checkpoint", group, partition, old)
        if merged != current:
            write_json_atomic(
                self._path(group),
                {
                    "stream": self.stream,
                    "group": group,
                    "positions": merged,
                    "updated_at": datetime.now(UTC).isoformat(),
                },
            )
        return merged
