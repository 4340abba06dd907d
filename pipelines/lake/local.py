"""The lake as a local folder (the embedded default)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pipelines.lake.base import LakeObject, Zone, sha256_of


class LocalLake:
    """A lake in a folder: `<root>/raw/...` and `<root>/curated/...`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, zone: Zone, key: str, local_file: Path) -> LakeObject:
        target = self.root / zone / key
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        shutil.copyfile(local_file, partial)
        with partial.open("rb") as fh:
            os.fsync(fh.fileno())
        partial.replace(target)  # readers never see a half-written object
        return LakeObject(
            uri=str(target),
            zone=zone,
            key=key,
            bytes=target.stat().st_size,
            sha256=sha256_of(target),
        )

    def uri(self, zone: Zone, key: str) -> str:
        return str(self.root / zone / key)

    def exists(self, zone: Zone, key: str) -> bool:
        return (self.root / zone / key).exists()
