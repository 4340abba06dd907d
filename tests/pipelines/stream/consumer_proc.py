"""A consumer in a process of its own, so a test can SIGKILL it in the middle of a batch.

Run as `python -m tests.pipelines.stream.consumer_proc SPEC_JSON`. The first batch is handled
and committed (its positions go to `handled.json`); the second is announced in `in_flight.json`,
then the handler hangs until the test kills the process.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from pipelines.stream import KinesisStream, LocalStream, Stream, StreamRecord


def open_from_spec(spec: dict[str, Any], *, create: bool = False) -> Stream:
    """A fresh instance of the stream `spec` describes (what a restarted process would open)."""
    if spec["kind"] == "local":
        return LocalStream(Path(spec["root"]), spec["name"])
    return KinesisStream(
        spec["name"],
        checkpoint_dir=Path(spec["checkpoint_dir"]),
        endpoint_url=spec["endpoint_url"],
        create=create,
        shards=2,
        retry_backoff_s=0.0,
    )


def _write_atomic(path: Path, batch: list[StreamRecord]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps([[r.partition, r.position] for r in batch]))
    tmp.replace(path)


def main(argv: list[str]) -> None:
    spec = json.loads(argv[1])
    workdir = Path(spec["workdir"])
    stream = open_from_spec(spec)
    batches = 0

    def handler(batch: list[StreamRecord]) -> None:
        nonlocal batches
        batches += 1
        if batches == 1:
            _write_atomic(workdir / "handled.json", batch)
            return
        _write_atomic(workdir / "in_flight.json", batch)
        time.sleep(60)

    stream.consume(spec["group"], handler, max_records=spec["max_records"], idle_timeout_s=10)


if __name__ == "__main__":
    main(sys.argv)
