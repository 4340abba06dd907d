"""The lake interface shared by the local folder and S3."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal, Protocol

Zone = Literal["raw", "curated"]


@dataclass(frozen=True)
class LakeObject:
    """A file stored in the lake: where it is, how big, and its content hash."""

    uri: str
    zone: Zone
    key: str  # the path inside the lake, e.g. raw/source=files/dt=2026-11-26/<run>-sales.csv
    bytes: int
    sha256: str


class Lake(Protocol):
    """Stores files by zone and partition; objects are written whole or not at all."""

    def put(
        self, zone: Zone, key: str, local_file: Path, *, sha256: str | None = None
    ) -> LakeObject:
        """Store `local_file` under `zone/key` (copied; the original is left in place).

        `sha256`, when the caller already hashed the file, is recorded instead of hashing it
        again: the caller vouches that the file has not changed since (the ingest compares its
        size and modification time before the hash and after the copy).
        """

    def uri(self, zone: Zone, key: str) -> str:
        """The address of `zone/key` (a path or s3:// URI)."""

    def exists(self, zone: Zone, key: str) -> bool:
        """Whether an object is stored at `zone/key`."""


def raw_key(source: str, day: date, run_id: str, name: str) -> str:
    """Partitioned key of a raw object."""
    return f"source={source}/dt={day.isoformat()}/{run_id}-{Path(name).name}"


def curated_key(dataset: str, day: date, run_id: str) -> str:
    """Partitioned key of a curated Parquet object."""
    return f"{dataset}/dt={day.isoformat()}/{run_id}.parquet"


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    """Content hash of a file, read in chunks (files may be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()
