"""AWS adapter tests: the session's moto server (tests/conftest.py) and an ingest on an S3 lake."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from core.settings import Settings
from pipelines.ingest import ingest_files

REGION = "us-east-1"

ARTISTS_CSV = """artist_id,name,genre,country,popularity,followers,formed_year
A1,The Lanterns,rock,US,71,120000,2009
A2,Mira Sol,pop,MX,88,2400000,2015
"""
FANS_CSV = """fan_id,city,state,country,age_band,signup_date,favorite_genre
F1,Austin,TX,US,25-34,2024-01-02,rock
F2,Boston,MA,US,35-44,2023-05-06,pop
"""


@pytest.fixture
def s3_settings(moto_endpoint: str, aws_env: None, tmp_path: Path) -> Settings:
    """Settings of a fresh warehouse whose lake is a new bucket on the moto server."""
    bucket = f"encore-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", region_name=REGION, endpoint_url=moto_endpoint).create_bucket(Bucket=bucket)
    return Settings(
        data_dir=tmp_path / "encore",
        lake_bucket=bucket,
        aws_endpoint_url=moto_endpoint,
        aws_region=REGION,
        glue_database=f"encore_{uuid.uuid4().hex[:8]}",
    )


def write_csv(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


@pytest.fixture
def ingested(s3_settings: Settings, tmp_path: Path) -> Settings:
    """The S3-lake settings after ingesting artists and fans (curated Parquet on S3)."""
    inbox = tmp_path / "inbox"
    files = [write_csv(inbox, "artists.csv", ARTISTS_CSV), write_csv(inbox, "fans.csv", FANS_CSV)]
    outcomes = ingest_files(s3_settings, files)
    assert [o.status for o in outcomes] == ["succeeded", "succeeded"], [o.message for o in outcomes]
    return s3_settings


def aws_client(service: str, settings: Settings) -> Any:
    return boto3.client(service, region_name=REGION, endpoint_url=settings.aws_endpoint_url)
