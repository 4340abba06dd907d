"""The lake as a local folder (the embedded default)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Final

from core.errors import SourceError
from pipelines.lake.base import LakeObject, Zone

_CHUNK: Final = 1 << 20


class LocalLake:
    """A lake in a folder: `<root>/raw/...` and `<root>/curated/...`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(
        self, zone: Zone, key: str, local_file: Path, *, sha256: str | None = None
    ) -> LakeObject:
        target = self.root / zone / key
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        digest = hashlib.sha256()
        size = 0
        try:
            with local_file.open("rb") as source, partial.open("wb") as copy:
                while block := source.read(_CHUNK):  # one read both hashes and copies
                    digest.update(block)
                    copy.write(block)
                    size += len(block)
                copy.flush()
                os.fsync(copy.fileno())
            if sha256 is not None and digest.hexdigest() != sha256:
                raise SourceError(
                    f"{local_file} changed while it was being ingested; ingest it again",
                    path=str(local_file),
                )
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(target)  # readers never see a half-written object
        return LakeObject(
            uri=str(target), zone=zone, key=key, bytes=size, sha256=digest.hexdigest()
        )

    def uri(self, zone: Zone, key: str) -> str:
        return str(self.root / zone / key)

    def exists(self, zone: Zone, key: str) -> bool:
        return (self.root / zone / key).exists()
