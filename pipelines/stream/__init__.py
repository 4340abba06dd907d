"""The stream transport: one `Stream` interface, a local durable log and a Kinesis adapter.

    stream = open_stream(settings, "ticket-sales")
    stream.produce([(sale["concert_id"], sale)])
    stream.consume("warehouse-loader", load_batch)   # at-least-once: handler, then commit

The local log lives under `<data_dir>/stream/<name>/`; Kinesis keeps its consumer checkpoints
under `<data_dir>/kinesis/<name>/checkpoints/`.
"""

from __future__ import annotations

from typing import Literal

from core.errors import ConfigError
from core.settings import Settings
from pipelines.stream.base import CheckpointStore, Handler, Stream, StreamRecord
from pipelines.stream.kinesis import KinesisStream
from pipelines.stream.local import LocalStream

__all__ = [
    "CheckpointStore",
    "Handler",
    "KinesisStream",
    "LocalStream",
    "Stream",
    "StreamKind",
    "StreamRecord",
    "open_stream",
]

StreamKind = Literal["local", "kinesis"]


def open_stream(
    settings: Settings,
    name: str,
    kind: StreamKind = "local",
    *,
    partitions: int | None = None,
    endpoint_url: str | None = None,
    region: str = "us-east-1",
    create: bool = False,
) -> Stream:
    """The stream `name`: the local log (default) or a Kinesis stream.

    `partitions` is the local partition count or, with `create=True`, the Kinesis shard count.
    The local stream is created on first open; a Kinesis stream only with `create=True`.
    Kinesis talks to `endpoint_url`, else `settings.aws_endpoint_url` (moto, LocalStack), else AWS.
    """
    if kind == "local":
        return LocalStream(settings.data_dir / "stream", name, partitions)
    if kind == "kinesis":
        return KinesisStream(
            name,
            checkpoint_dir=settings.data_dir / "kinesis" / name / "checkpoints",
            endpoint_url=endpoint_url or settings.aws_endpoint_url,
            region=region,
            create=create,
            shards=partitions or 1,
        )
    raise ConfigError(f"unknown stream kind {kind!r}; use 'local' or 'kinesis'")
