"""The Kinesis Data Streams adapter: the `Stream` interface over boto3, checkpoints kept locally.

Shards are the partitions and sequence numbers the positions. Kinesis hashes each key with MD5 into
a shard's hash-key range, so a key keeps its shard until the stream is resharded. boto3 is imported
only when a client is built, so importing this module costs nothing offline.

Service limits shape the code: put_records takes at most 500 records and 5 MiB and may refuse some
records (throttling), which are retried with backoff, so a retried record can land after records
produced later with the same key. get_shard_iterator allows 5 calls/s per shard, so iterators are
reused from one read to the next while the consumer commits what it read. After a reshard, child
shards are read as soon as they are listed, without waiting for their parent to be drained.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.aws import aws_call
from core.errors import ConfigError, SourceError, ValidationError
from pipelines.stream.base import (
    CheckpointStore,
    Stream,
    StreamRecord,
    check_name,
    encode_record,
    gather,
    highest_positions,
)

logger = logging.getLogger(__name__)

PUT_MAX_RECORDS = 500
PUT_MAX_BYTES = 5 * 1024 * 1024
GET_MAX_RECORDS = 10_000
_THROTTLED = {"ProvisionedThroughputExceededException", "LimitExceededException"}


@contextmanager
def _aws(operation: str, **detail: Any) -> Iterator[None]:
    """botocore errors as `SourceError` (the AWS error code kept in `detail["code"]`)."""
    with aws_call(f"call Kinesis {operation}", error=SourceError, operation=operation, **detail):
        yield


def _client(endpoint_url: str | None, region: str) -> Any:
    try:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError
    except ImportError as exc:
        raise ConfigError("the Kinesis stream needs boto3: pip install boto3") from exc
    try:
        return boto3.client(
            "kinesis",
            endpoint_url=endpoint_url,
            region_name=region,
            config=Config(
                retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=15
            ),
        )
    except BotoCoreError as exc:
        raise ConfigError(f"cannot build a Kinesis client for {region}: {exc}") from exc


def _batches(items: Sequence[tuple[str, bytes]]) -> Iterator[list[int]]:
    """Indices of `items` grouped to fit one put_records call."""
    batch: list[int] = []
    size = 0
    for i, (key, data) in enumerate(items):
        item_size = len(data) + len(key.encode())
        if batch and (len(batch) == PUT_MAX_RECORDS or size + item_size > PUT_MAX_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(i)
        size += item_size
    if batch:
        yield batch


class KinesisStream(Stream):
    """A Kinesis data stream; consumer checkpoints live as files in `checkpoint_dir`."""

    def __init__(
        self,
        name: str,
        *,
        checkpoint_dir: Path,
        client: Any = None,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        create: bool = False,
        shards: int = 1,
        put_attempts: int = 5,
        retry_backoff_s: float = 0.1,
        lag_scan_limit: int = 100_000,
    ) -> None:
        self.name = check_name("stream", name)
        self.client = client if client is not None else _client(endpoint_url, region)
        self.checkpoints = CheckpointStore(checkpoint_dir, name)
        self.put_attempts = put_attempts
        self.retry_backoff_s = retry_backoff_s
        self.lag_scan_limit = lag_scan_limit
        if create:
            self._create(shards)
        self._shards = self._list_shards()
        # (group, shard) -> (position the iterator starts after, iterator; None: shard closed)
        self._cursors: dict[tuple[str, str], tuple[str | None, str | None]] = {}
        self._rotation = 0

    def __repr__(self) -> str:
        return f"KinesisStream({self.name!r}, shards={len(self._shards)})"

    def _create(self, shards: int, timeout_s: float = 120.0) -> None:
        try:
            with _aws("CreateStream", stream=self.name):
                self.client.create_stream(StreamName=self.name, ShardCount=shards)
            logger.info("created Kinesis stream %s with %d shards", self.name, shards)
        except SourceError as exc:
            if exc.detail.get("code") != "ResourceInUseException":
                raise
        deadline, delay = time.monotonic() + timeout_s, 0.1
        while True:
            with _aws("DescribeStreamSummary", stream=self.name):
                summary = self.client.describe_stream_summary(StreamName=self.name)
            status = summary["StreamDescriptionSummary"]["StreamStatus"]
            if status in {"ACTIVE", "UPDATING"}:
                return
            if time.monotonic() > deadline:
                raise SourceError(
                    f"Kinesis stream {self.name!r} is still {status} after {timeout_s:.0f} s",
                    stream=self.name,
                    status=status,
                )
            time.sleep(delay)
            delay = min(delay * 2, 2.0)

    def _list_shards(self) -> list[str]:
        shards: list[str] = []
        args: dict[str, Any] = {"StreamName": self.name}
        while True:
            with _aws("ListShards", stream=self.name):
                page = self.client.list_shards(**args)
            shards.extend(shard["ShardId"] for shard in page["Shards"])
            if not page.get("NextToken"):
                return sorted(shards)
            args = {"NextToken": page["NextToken"]}

    def produce(self, records: Iterable[tuple[str, dict[str, Any]]]) -> list[StreamRecord]:
        """Put `(key, value)` pairs, retrying records Kinesis refuses; returns them in order."""
        items = [(key, encode_record(key, value)) for key, value in records]
        results: list[StreamRecord | None] = [None] * len(items)
        try:
            for batch in _batches(items):
                self._put(batch, items, results)
        except SourceError as exc:
            # part of the input may be written already: tell the caller which part
            exc.detail["produced"] = [r for r in results if r is not None]
            raise
        logger.debug("produced %d records to Kinesis stream %s", len(items), self.name)
        return [r for r in results if r is not None]

    def _put(
        self,
        batch: list[int],
        items: Sequence[tuple[str, bytes]],
        results: list[StreamRecord | None],
    ) -> None:
        pending = batch
        codes: list[str] = []
        for attempt in range(1, self.put_attempts + 1):
            entries = [{"Data": items[i][1], "PartitionKey": items[i][0]} for i in pending]
            with _aws("PutRecords", stream=self.name, records=len(entries)):
                response = self.client.put_records(StreamName=self.name, Records=entries)
            now = datetime.now(UTC)
            failed: list[int] = []
            codes = []
            for i, entry in zip(pending, response["Records"], strict=True):
                if entry.get("ErrorCode"):
                    failed.append(i)
                    codes.append(entry["ErrorCode"])
                    continue
                key, data = items[i]
                results[i] = StreamRecord(
                    self.name, entry["ShardId"], entry["SequenceNumber"], key, json.loads(data), now
                )
            if not failed:
                return
            pending = failed
            if attempt < self.put_attempts:
                logger.warning(
                    "Kinesis refused %d records of %s (%s); retry %d",
                    len(failed),
                    self.name,
                    sorted(set(codes)),
                    attempt,
                )
                time.sleep(self.retry_backoff_s * 2 ** (attempt - 1))
        raise SourceError(
            f"Kinesis refused {len(pending)} records of stream {self.name!r} after "
            f"{self.put_attempts} attempts ({', '.join(sorted(set(codes)))}); add shards or "
            "slow the producer, then produce the refused keys again",
            stream=self.name,
            refused=[items[i][0] for i in pending],
        )

    def _iterator(self, shard: str, after: str | None) -> str:
        args: dict[str, str] = (
            {"ShardIteratorType": "TRIM_HORIZON"}
            if after is None
            else {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": after}
        )
        with _aws("GetShardIterator", stream=self.name, shard=shard):
            response = self.client.get_shard_iterator(StreamName=self.name, ShardId=shard, **args)
        return str(response["ShardIterator"])

    def _get_records(self, shard: str, iterator: str, limit: int) -> dict[str, Any]:
        with _aws("GetRecords", stream=self.name, shard=shard):
            response: dict[str, Any] = self.client.get_records(
                ShardIterator=iterator, Limit=min(limit, GET_MAX_RECORDS)
            )
        return response

    def _record(self, shard: str, raw: dict[str, Any]) -> StreamRecord:
        data: bytes = raw["Data"]
        try:
            value = json.loads(data)
            if not isinstance(value, dict):
                raise ValueError(f"a JSON {type(value).__name__}, not an object")
        except ValueError as exc:
            # another producer wrote this; deliver it for quarantine rather than block the shard
            logger.warning("%s %s@%s is not a JSON object", self.name, shard, raw["SequenceNumber"])
            value = {"_undecodable": base64.b64encode(data).decode(), "_reason": str(exc)}
        arrived = raw.get("ApproximateArrivalTimestamp")
        return StreamRecord(
            stream=self.name,
            partition=shard,
            position=raw["SequenceNumber"],
            key=raw["PartitionKey"],
            value=value,
            produced_at=arrived.astimezone(UTC) if arrived else datetime.now(UTC),
        )

    def _read_shard(
        self, group: str, shard: str, after: str | None, limit: int
    ) -> list[StreamRecord]:
        cached = self._cursors.get((group, shard))
        iterator = None
        if cached is not None and cached[0] == after:
            if cached[1] is None:
                return []  # a closed shard, read to its end
            iterator = cached[1]
        try:
            response = self._get_records(shard, iterator or self._iterator(shard, after), limit)
        except SourceError as exc:
            code = exc.detail.get("code")
            if code == "ExpiredIteratorException" and iterator is not None:
                response = self._get_records(shard, self._iterator(shard, after), limit)
            elif code in _THROTTLED:
                logger.warning(
                    "Kinesis throttled reads of %s %s; skipping it once", self.name, shard
                )
                return []
            else:
                raise
        records = [self._record(shard, raw) for raw in response["Records"]]
        following = response.get("NextShardIterator")
        self._cursors[(group, shard)] = (records[-1].position if records else after, following)
        if following is None:
            self._shards = self._list_shards()  # the shard closed: pick up its children
        return records

    def read(self, group: str, max_records: int = 500) -> list[StreamRecord]:
        """Records after `group`'s checkpoints, across shards, in sequence order within each."""
        after = self.checkpoints.load(group)

        def fetch(shard: str, limit: int) -> list[StreamRecord]:
            records = self._read_shard(group, shard, after.get(shard), limit)
            if records:
                after[shard] = records[-1].position
            return records

        shards = self._shards
        start, self._rotation = self._rotation % len(shards), self._rotation + 1
        return gather(shards, max_records, start, fetch)

    def commit(self, group: str, records: Sequence[StreamRecord]) -> None:
        """Advance `group`'s checkpoint of each shard to the highest sequence number given."""
        highest = highest_positions(self.name, records)
        if set(highest) - set(self._shards):
            self._shards = self._list_shards()
        unknown = sorted(set(highest) - set(self._shards))
        if unknown:
            raise ValidationError(
                f"Kinesis stream {self.name!r} has no shard {unknown[0]!r}",
                errors=[("partition", "unknown shard")],
            )
        self.checkpoints.advance(group, highest)

    def lag(self, group: str) -> dict[str, int]:
        """Records not yet committed by `group` per shard, counted by reading ahead (capped)."""
        self._shards = self._list_shards()
        committed = self.checkpoints.load(group)
        return {shard: self._count_after(shard, committed.get(shard)) for shard in self._shards}

    def _count_after(self, shard: str, after: str | None) -> int:
        iterator: str | None = self._iterator(shard, after)
        count = calls = 0
        # an empty page with MillisBehindLatest > 0 is a gap in the shard, not its end
        while iterator is not None and count < self.lag_scan_limit and calls < 1000:
            try:
                response = self._get_records(shard, iterator, self.lag_scan_limit - count)
            except SourceError as exc:
                if exc.detail.get("code") not in _THROTTLED:
                    raise
                logger.warning("lag of %s %s is a lower bound: reads throttled", self.name, shard)
                break
            calls += 1
            count += len(response["Records"])
            if not response["Records"] and not response.get("MillisBehindLatest"):
                break
            iterator = response.get("NextShardIterator")
        return min(count, self.lag_scan_limit)
