"""The data lake: a raw zone of files exactly as received and a curated zone of Parquet.

Layout (both zones Hive-partitioned, requirement 7.1):
    raw/source=<source>/dt=<YYYY-MM-DD>/<run id>-<name>
    curated/<dataset>/dt=<YYYY-MM-DD>/<run id>.parquet
"""

from __future__ import annotations

from core.settings import Settings
from pipelines.lake.base import Lake, LakeObject
from pipelines.lake.local import LocalLake

__all__ = ["Lake", "LakeObject", "LocalLake", "open_lake"]


def open_lake(settings: Settings) -> Lake:
    """The lake the settings select: a local folder by default, S3 with `ENCORE_LAKE_BUCKET`."""
    if settings.lake_bucket:
        from pipelines.lake.s3 import S3Lake

        return S3Lake(settings.lake_bucket, endpoint_url=settings.aws_endpoint_url)
    return LocalLake(settings.lake_dir)
