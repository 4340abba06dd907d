"""The lake on Amazon S3 (selected by `ENCORE_LAKE_BUCKET`); boto3 is imported lazily."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.errors import SourceError
from pipelines.lake.base import LakeObject, Zone, sha256_of


class S3Lake:
    """A lake in an S3 bucket: `s3://<bucket>/raw/...` and `s3://<bucket>/curated/...`."""

    def __init__(self, bucket: str, *, client: Any = None, endpoint_url: str | None = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("s3", endpoint_url=endpoint_url)
        self.bucket = bucket
        self.client = client

    def put(
        self, zone: Zone, key: str, local_file: Path, *, sha256: str | None = None
    ) -> LakeObject:
        from botocore.exceptions import BotoCoreError, ClientError

        digest = sha256 or sha256_of(local_file)
        full_key = f"{zone}/{key}"
        try:  # a single PUT is atomic: the object appears whole or not at all
            self.client.upload_file(
                str(local_file), self.bucket, full_key, ExtraArgs={"Metadata": {"sha256": digest}}
            )
        except (BotoCoreError, ClientError) as exc:
            raise SourceError(f"cannot store {full_key} in s3://{self.bucket}: {exc}") from exc
        size = local_file.stat().st_size
        return LakeObject(uri=self.uri(zone, key), zone=zone, key=key, bytes=size, sha256=digest)

    def uri(self, zone: Zone, key: str) -> str:
        return f"s3://{self.bucket}/{zone}/{key}"

    def exists(self, zone: Zone, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=f"{zone}/{key}")
        except ClientError:
            return False
        return True
