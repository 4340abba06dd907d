"""AWS adapter tests: the session's moto server (tests/conftest.py), an ingest on an S3 lake and
the session's local Spark."""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from core.settings import Settings
from pipelines.ingest import ingest_files

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

REGION = "us-east-1"

ARTISTS_CSV = """artist_id,name,genre,country,popularity,followers,formed_year
A1,The Lanterns,rock,US,71,120000,2009
A2,Mira Sol,pop,MX,88,2400000,2015
"""
FANS_CSV = """fan_id,city,state,country,age_band,signup_date,favorite_genre
F1,Austin,TX,US,25-34,2024-01-02,rock
F2,Boston,MA,US,35-44,2023-05-06,pop
"""


def _new_bucket_settings(endpoint: str, data_dir: Path) -> Settings:
    bucket = f"encore-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", region_name=REGION, endpoint_url=endpoint).create_bucket(Bucket=bucket)
    return Settings(
        data_dir=data_dir,
        lake_bucket=bucket,
        aws_endpoint_url=endpoint,
        aws_region=REGION,
        glue_database=f"encore_{uuid.uuid4().hex[:8]}",
    )


@pytest.fixture
def s3_settings(moto_endpoint: str, aws_env: None, tmp_path: Path) -> Settings:
    """Settings of a fresh warehouse whose lake is a new bucket on the moto server."""
    return _new_bucket_settings(moto_endpoint, tmp_path / "encore")


def write_csv(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def _ingest(settings: Settings, inbox: Path) -> Settings:
    files = [write_csv(inbox, "artists.csv", ARTISTS_CSV), write_csv(inbox, "fans.csv", FANS_CSV)]
    outcomes = ingest_files(settings, files)
    assert [o.status for o in outcomes] == ["succeeded", "succeeded"], [o.message for o in outcomes]
    return settings


@pytest.fixture(scope="session")
def _shared_ingest(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """One ingest of artists and fans on an S3 lake, shared by the tests that only read it."""
    base = tmp_path_factory.mktemp("aws-ingest")
    with pytest.MonkeyPatch.context() as patch:
        for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            patch.setenv(var, "testing")
        patch.setenv("AWS_CONFIG_FILE", str(base / "no-aws-config"))
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(base / "no-aws-credentials"))
        patch.delenv("AWS_PROFILE", raising=False)
        return _ingest(_new_bucket_settings(moto_endpoint, base / "encore"), base / "inbox")


@pytest.fixture
def ingested(_shared_ingest: Settings, aws_env: None) -> Settings:
    """Artists and fans ingested on an S3 lake (shared: do not ingest more), own Glue database."""
    return _shared_ingest.model_copy(update={"glue_database": f"encore_{uuid.uuid4().hex[:8]}"})


@pytest.fixture
def fresh_ingested(s3_settings: Settings, tmp_path: Path) -> Settings:
    """Like `ingested`, but a lake and warehouse of the test's own, which it may add to."""
    return _ingest(s3_settings, tmp_path / "inbox")


def aws_client(service: str, settings: Settings) -> Any:
    return boto3.client(service, region_name=REGION, endpoint_url=settings.aws_endpoint_url)


# Spark settings for tiny test data. The JIT flags cut the driver's start and its compiling of
# the transforms' generated code by about half (C1 only, one GC thread); results do not change.
SPARK_TEST_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.sql.shuffle.partitions": "1",
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
}


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    """The session's one local Spark (`local[1]`, loopback only, no UI), shared by every test
    module here; its warehouse folder is a temporary one, not `spark-warehouse/` in the cwd."""
    pytest.importorskip("pyspark", reason="the Spark tests need the 'spark' extra")
    if shutil.which("java") is None:
        pytest.skip("the Spark tests need Java 17 (make system-deps)")
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master("local[1]").appName("encore-tests")
    for key, value in SPARK_TEST_CONF.items():
        builder = builder.config(key, value)
    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    session = builder.config("spark.sql.warehouse.dir", str(warehouse)).getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
