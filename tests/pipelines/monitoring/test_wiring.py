"""Ingestion reports to the warehouse tables, and to CloudWatch as well on the aws profile."""

from __future__ import annotations

from pathlib import Path

import boto3

from core.settings import Settings
from pipelines.ingest import ingest_files


def test_the_aws_profile_sends_run_metrics_to_cloudwatch(moto_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "encore", profile="aws", aws_endpoint_url=moto_url)
    path = tmp_path / "fans.csv"
    path.write_text("fan_id,city,age_band\nF1,Austin,25-34\nF2,Boston,12-17\n")
    [outcome] = ingest_files(settings, [path])
    assert outcome.status == "succeeded"
    cloudwatch = boto3.client("cloudwatch", endpoint_url=moto_url, region_name="us-east-1")
    names = {
        m["MetricName"] for m in cloudwatch.list_metrics(Namespace="Encore/Pipelines")["Metrics"]
    }
    assert {"records_in", "quarantine_rate", "run_failed"} <= names
    logs = boto3.client("logs", endpoint_url=moto_url, region_name="us-east-1")
    events = logs.filter_log_events(logGroupName="/encore/alerts")["events"]
    assert any("quarantine" in e["message"] for e in events)  # 50% bad rows: a critical alert
