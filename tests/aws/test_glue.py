"""Glue Data Catalog sync against moto's server: curated datasets become partitioned tables."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.settings import Settings
from pipelines.aws.glue import glue_type, sync_catalog
from pipelines.ingest import ingest_files

from .conftest import aws_client, write_csv


def test_curated_datasets_become_glue_tables_with_columns_partitions_and_location(
    ingested: Settings,
) -> None:
    report = sync_catalog(ingested)
    db = ingested.glue_database
    assert f"database {db}" in report.created
    assert {f"table {db}.artists", f"table {db}.fans"} <= set(report.created)

    glue = aws_client("glue", ingested)
    fans = glue.get_table(DatabaseName=db, Name="fans")["Table"]
    columns = {c["Name"]: c["Type"] for c in fans["StorageDescriptor"]["Columns"]}
    assert columns["fan_id"] == "string"
    assert columns["signup_date"] == "date"
    assert [k["Name"] for k in fans["PartitionKeys"]] == ["dt"]
    assert fans["StorageDescriptor"]["Location"] == f"s3://{ingested.lake_bucket}/curated/fans/"
    assert fans["Parameters"]["classification"] == "parquet"
    assert fans["Parameters"]["recordCount"] == "2"

    artists = glue.get_table(DatabaseName=db, Name="artists")["Table"]
    artist_columns = {c["Name"]: c["Type"] for c in artists["StorageDescriptor"]["Columns"]}
    assert artist_columns["popularity"] == "bigint"  # the Parquet file's type
    assert artist_columns["followers"] == "bigint"

    today = date.today().isoformat()
    [partition] = glue.get_partitions(DatabaseName=db, TableName="fans")["Partitions"]
    assert partition["Values"] == [today]
    assert partition["StorageDescriptor"]["Location"] == (
        f"s3://{ingested.lake_bucket}/curated/fans/dt={today}/"
    )
    # the partition's folder holds the Parquet the ingest wrote
    listed = aws_client("s3", ingested).list_objects_v2(
        Bucket=ingested.lake_bucket, Prefix=f"curated/fans/dt={today}/"
    )
    assert listed["KeyCount"] == 1


def test_a_second_sync_changes_nothing_and_new_rows_update_the_table(
    fresh_ingested: Settings, tmp_path: Path
) -> None:
    sync_catalog(fresh_ingested)
    glue = aws_client("glue", fresh_ingested)
    before = glue.get_table(DatabaseName=fresh_ingested.glue_database, Name="fans")["Table"]

    again = sync_catalog(fresh_ingested)
    assert not again.changed, again
    assert f"table {fresh_ingested.glue_database}.fans: up to date" in again.skipped
    after = glue.get_table(DatabaseName=fresh_ingested.glue_database, Name="fans")["Table"]
    assert after.get("UpdateTime") == before.get("UpdateTime")
    assert after["StorageDescriptor"] == before["StorageDescriptor"]

    more = write_csv(tmp_path / "more", "fans.csv", "fan_id,city,country\nF3,Denver,US\n")
    assert ingest_files(fresh_ingested, [more])[0].status == "succeeded"
    third = sync_catalog(fresh_ingested)
    assert third.updated == [f"table {fresh_ingested.glue_database}.fans"]
    assert third.created == []  # same day: the partition is already registered
    fans = glue.get_table(DatabaseName=fresh_ingested.glue_database, Name="fans")["Table"]
    assert fans["Parameters"]["recordCount"] == "3"


def test_sync_needs_the_s3_lake(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="ENCORE_LAKE_BUCKET"):
        sync_catalog(settings)


def test_glue_types_from_duckdb_types() -> None:
    assert glue_type("DECIMAL(12,2)") == "decimal(12,2)"
    assert glue_type("VARCHAR") == "string"
    assert glue_type("TIMESTAMP") == "timestamp"
    assert glue_type("HUGEINT") == "string"  # Athena has no 128-bit integer
    assert glue_type("VARCHAR[]") == "string"
