"""A moto server for Kinesis, and a `stream` fixture that runs each behaviour test on both kinds."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pipelines.stream import Stream
from tests.pipelines.stream.consumer_proc import open_from_spec


@dataclass
class StreamUnderTest:
    """A stream the test owns; `open()` returns a new instance, as a restarted process would."""

    kind: str
    spec: dict[str, Any]
    first: Stream

    def open(self) -> Stream:
        return open_from_spec(self.spec)


@pytest.fixture(params=["local", "kinesis"])
def stream(request: pytest.FixtureRequest, tmp_path: Path) -> StreamUnderTest:
    """A fresh, empty stream: the local log (4 partitions) or a 2-shard Kinesis stream on moto."""
    name = f"sales-{uuid.uuid4().hex[:12]}"
    if request.param == "local":
        spec: dict[str, Any] = {"kind": "local", "root": str(tmp_path / "stream"), "name": name}
    else:
        endpoint = request.getfixturevalue("moto_endpoint")
        request.getfixturevalue("aws_env")
        spec = {
            "kind": "kinesis",
            "name": name,
            "endpoint_url": endpoint,
            "checkpoint_dir": str(tmp_path / "checkpoints"),
        }
    return StreamUnderTest(request.param, spec, open_from_spec(spec, create=True))
