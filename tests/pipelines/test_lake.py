"""The lake, local folder and S3 alike: whole objects, partitioned keys, content hashes."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import boto3
import pytest

from core.settings import Settings
from pipelines.ingest import ingest_files
from pipelines.lake import Lake, LocalLake, open_lake
from pipelines.lake.base import raw_key
from pipelines.lake.s3 import S3Lake


@pytest.fixture(params=["local", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> Lake:
    if request.param == "local":
        return LocalLake(tmp_path / "lake")
    endpoint = request.getfixturevalue("moto_endpoint")
    request.getfixturevalue("aws_env")
    bucket = f"encore-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    return S3Lake(bucket, endpoint_url=endpoint)


def test_put_stores_the_file_whole_with_its_hash(lake: Lake, tmp_path: Path) -> None:
    source = tmp_path / "sales.csv"
    source.write_bytes(b"sale_id,amount\nS1,10.00\n")
    from datetime import date

    key = raw_key("crm", date(2026, 11, 26), "run1", source.name)
    assert key == "source=crm/dt=2026-11-26/run1-sales.csv"
    stored = lake.put("raw", key, source)
    assert stored.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert stored.bytes == source.stat().st_size
    assert lake.exists("raw", key) and not lake.exists("raw", key + ".missing")
    assert stored.uri.endswith("raw/source=crm/dt=2026-11-26/run1-sales.csv")


def test_ingest_lands_raw_files_in_s3_when_a_bucket_is_set(
    moto_endpoint: str, aws_env: None, tmp_path: Path
) -> None:
    bucket = f"encore-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3", endpoint_url=moto_endpoint)
    s3.create_bucket(Bucket=bucket)
    settings = Settings(
        data_dir=tmp_path / "encore", lake_bucket=bucket, aws_endpoint_url=moto_endpoint
    )
    assert isinstance(open_lake(settings), S3Lake)
    path = tmp_path / "fans.csv"
    path.write_text("fan_id,city\nF1,Austin\n")
    [outcome] = ingest_files(settings, [path])
    assert outcome.status == "succeeded", outcome.message
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert any(k.startswith("raw/source=files/dt=") and k.endswith("-fans.csv") for k in keys)
    assert any(k.startswith("curated/fans/dt=") and k.endswith(".parquet") for k in keys)
