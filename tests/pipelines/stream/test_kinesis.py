"""The Kinesis adapter's own promises: retries, batching, error translation, iterator reuse."""

from __future__ import annotations

import base64
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from core.errors import ConfigError, SourceError
from core.settings import Settings
from pipelines.stream import KinesisStream, open_stream
from pipelines.stream.base import partition_index
from tests.conftest import PROJECT_ROOT
from tests.pipelines.stream.consumer_proc import open_from_spec

SHARD = "shardId-000000000000"


class FakeKinesis:
    """A one-shard Kinesis that refuses the keys in `refuse` a given number of times."""

    def __init__(self, refuse: dict[str, int] | None = None) -> None:
        self.refuse = dict(refuse or {})
        self.puts: list[list[str]] = []
        self.sequence = 0

    def list_shards(self, **_: Any) -> dict[str, Any]:
        return {"Shards": [{"ShardId": SHARD, "SequenceNumberRange": {}}]}

    def put_records(self, **call: Any) -> dict[str, Any]:
        self.puts.append([r["PartitionKey"] for r in call["Records"]])
        out: list[dict[str, str]] = []
        for record in call["Records"]:
            if self.refuse.get(record["PartitionKey"], 0) > 0:
                self.refuse[record["PartitionKey"]] -= 1
                out.append({"ErrorCode": "ProvisionedThroughputExceededException"})
            else:
                self.sequence += 1
                out.append({"ShardId": SHARD, "SequenceNumber": str(self.sequence)})
        return {"Records": out}


def _fake_stream(tmp_path: Path, client: object, **kwargs: Any) -> KinesisStream:
    return KinesisStream("s", checkpoint_dir=tmp_path, client=client, retry_backoff_s=0.0, **kwargs)


def test_refused_records_are_retried_and_returned_in_input_order(tmp_path: Path) -> None:
    client = FakeKinesis(refuse={"b": 2})
    produced = _fake_stream(tmp_path, client).produce([(k, {"k": k}) for k in "abc"])
    assert [r.key for r in produced] == ["a", "b", "c"]
    assert [r.position for r in produced] == ["1", "3", "2"]
    assert client.puts == [["a", "b", "c"], ["b"], ["b"]]


def test_records_still_refused_after_the_last_attempt_are_reported(tmp_path: Path) -> None:
    stream = _fake_stream(tmp_path, FakeKinesis(refuse={"b": 99}), put_attempts=3)
    with pytest.raises(SourceError, match="refused 1 records") as caught:
        stream.produce([(k, {"k": k}) for k in "abc"])
    assert caught.value.detail["refused"] == ["b"]
    assert [r.key for r in caught.value.detail["produced"]] == ["a", "c"]


def test_puts_are_batched_by_count_and_by_bytes(tmp_path: Path) -> None:
    client = FakeKinesis()
    stream = _fake_stream(tmp_path, client)
    stream.produce([(f"k{i}", {"i": i}) for i in range(1201)])
    assert [len(keys) for keys in client.puts] == [500, 500, 201]

    client.puts.clear()
    stream.produce([(f"big{i}", {"blob": "x" * 1_000_000}) for i in range(6)])
    assert [len(keys) for keys in client.puts] == [5, 1]


def test_connection_failures_become_source_errors(tmp_path: Path) -> None:
    class Unreachable(FakeKinesis):
        def put_records(self, **call: Any) -> dict[str, Any]:
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")

    with pytest.raises(
        SourceError, match="cannot call Kinesis PutRecords: Could not connect"
    ) as caught:
        _fake_stream(tmp_path, Unreachable()).produce([("k", {})])
    assert isinstance(caught.value.__cause__, EndpointConnectionError)


@pytest.mark.usefixtures("aws_env")
def test_a_missing_stream_is_a_source_error_naming_the_aws_code(
    moto_endpoint: str, tmp_path: Path
) -> None:
    with pytest.raises(SourceError, match="ResourceNotFoundException") as caught:
        KinesisStream("no-such-stream", checkpoint_dir=tmp_path, endpoint_url=moto_endpoint)
    assert caught.value.detail["code"] == "ResourceNotFoundException"
    assert isinstance(caught.value.__cause__, ClientError)


@pytest.fixture
def kinesis(moto_endpoint: str, aws_env: None, tmp_path: Path) -> KinesisStream:
    """A fresh 2-shard Kinesis stream on the moto server."""
    spec = {
        "kind": "kinesis",
        "name": f"sales-{uuid.uuid4().hex[:12]}",
        "endpoint_url": moto_endpoint,
        "checkpoint_dir": str(tmp_path / "checkpoints"),
    }
    stream = open_from_spec(spec, create=True)
    assert isinstance(stream, KinesisStream)
    return stream


def test_keys_map_to_shards_by_the_same_hash_as_the_local_log(kinesis: KinesisStream) -> None:
    produced = kinesis.produce([(f"artist-{i}", {}) for i in range(30)])
    assert all(int(r.partition.rsplit("-", 1)[1]) == partition_index(r.key, 2) for r in produced)


def test_a_record_that_is_not_json_is_delivered_for_quarantine(kinesis: KinesisStream) -> None:
    kinesis.client.put_record(StreamName=kinesis.name, Data=b"\xff not json", PartitionKey="x")
    [record] = kinesis.read("loader")
    assert base64.b64decode(record.value["_undecodable"]) == b"\xff not json"
    assert record.value["_reason"]


def test_a_steady_consumer_reuses_its_shard_iterators(kinesis: KinesisStream) -> None:
    kinesis.produce([(f"k{i}", {"i": i}) for i in range(20)])
    calls: list[str] = []
    kinesis.client.meta.events.register(
        "before-call.kinesis.GetShardIterator", lambda **kw: calls.append("it")
    )
    assert kinesis.consume("loader", lambda batch: None, max_records=3, idle_timeout_s=0.2) == 20
    assert len(calls) == 2, "one iterator per shard for the whole run"


def test_an_expired_iterator_is_replaced(kinesis: KinesisStream) -> None:
    kinesis.produce([("k", {"i": 1})])
    shard = kinesis.read("loader")[0].partition
    kinesis._cursors[("loader", shard)] = (None, "stale")
    real = kinesis.client.get_records

    def get_records(**kwargs: Any) -> Any:
        if kwargs["ShardIterator"] == "stale":
            error = {"Error": {"Code": "ExpiredIteratorException", "Message": "expired"}}
            raise ClientError(error, "GetRecords")
        return real(**kwargs)

    kinesis.client.get_records = get_records
    assert [r.value for r in kinesis.read("loader")] == [{"i": 1}]


@pytest.mark.usefixtures("aws_env")
def test_open_stream_builds_a_kinesis_stream_with_local_checkpoints(
    moto_endpoint: str, settings: Settings
) -> None:
    name = f"sales-{uuid.uuid4().hex[:8]}"
    settings = settings.model_copy(update={"aws_endpoint_url": moto_endpoint})
    stream = open_stream(settings, name, "kinesis", create=True, partitions=2)
    stream.produce([("k", {"i": 1})])
    stream.commit("loader", stream.read("loader"))
    assert (settings.data_dir / "kinesis" / name / "checkpoints" / "loader.json").is_file()
    with pytest.raises(ConfigError, match="unknown stream kind"):
        open_stream(settings, name, "kafka")  # type: ignore[arg-type]


def test_importing_the_package_does_not_import_boto3() -> None:
    code = "import sys, pipelines.stream; assert 'boto3' not in sys.modules, 'boto3 imported'"
    subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, check=True)
