"""S3 lifecycle rules for the lake bucket, set on moto's server and read back."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from pipelines.lake.lifecycle import apply_lifecycle
from pipelines.lake.tiering import TierPolicy

REGION = "us-east-1"


@pytest.fixture
def s3(moto_endpoint: str, aws_env: None) -> Any:
    return boto3.client("s3", region_name=REGION, endpoint_url=moto_endpoint)


def _rules(s3: Any, bucket: str) -> dict[str, dict[str, Any]]:
    return {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}


def test_lifecycle_rules_are_set_once_and_keep_other_rules(s3: Any) -> None:
    bucket = f"encore-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={"Rules": [
            {"ID": "team-logs", "Filter": {"Prefix": "logs/"}, "Status": "Enabled",
             "Expiration": {"Days": 14}},
        ]},
    )  # fmt: skip
    policy = TierPolicy(quarantine_expiry_days=60)
    report = apply_lifecycle(s3, bucket, policy)
    assert sorted(report.created) == [
        "encore-abort-incomplete-uploads", "encore-curated-intelligent-tiering",
        "encore-quarantine-expiry", "encore-raw-tiering",
    ]  # fmt: skip
    rules = _rules(s3, bucket)
    assert rules["team-logs"]["Expiration"] == {"Days": 14}
    raw = rules["encore-raw-tiering"]
    assert raw["Filter"] == {"Prefix": "raw/"} and "Expiration" not in raw
    assert raw["Transitions"] == [
        {"Days": 30, "StorageClass": "STANDARD_IA"},
        {"Days": 90, "StorageClass": "GLACIER_IR"},
    ]
    assert rules["encore-curated-intelligent-tiering"]["Transitions"] == [
        {"Days": 0, "StorageClass": "INTELLIGENT_TIERING"}
    ]
    assert rules["encore-quarantine-expiry"]["Expiration"] == {"Days": 60}
    assert rules["encore-abort-incomplete-uploads"]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": 7
    }

    again = apply_lifecycle(s3, bucket, policy)
    assert not again.changed and len(again.skipped) == 4

    # raw expiry switched on, quarantine expiry off: one rule updated, one removed
    changed = apply_lifecycle(s3, bucket, TierPolicy(raw_expiry_days=400))
    assert (changed.updated, changed.deleted) == (
        ["encore-raw-tiering"], ["encore-quarantine-expiry"]
    )  # fmt: skip
    rules = _rules(s3, bucket)
    assert rules["encore-raw-tiering"]["Expiration"] == {"Days": 400}
    assert "encore-quarantine-expiry" not in rules and "team-logs" in rules


def test_encore_lake_tier_aws(
    s3: Any, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    import typer

    from pipelines.commands import app

    bucket = f"encore-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    for name, value in {
        "ENCORE_DATA_DIR": str(tmp_path), "ENCORE_LAKE_BUCKET": bucket,
        "ENCORE_AWS_ENDPOINT_URL": moto_endpoint, "ENCORE_AWS_REGION": REGION,
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    root = typer.Typer()
    root.registered_groups.extend(app.registered_groups)
    out = CliRunner().invoke(root, ["lake", "tier", "--aws"])
    assert out.exit_code == 0, out.output
    assert "lifecycle: 3 created" in out.output
    out = CliRunner().invoke(root, ["lake", "tier", "--aws"])
    assert "lifecycle: 3 skipped" in out.output
    assert len(_rules(s3, bucket)) == 3
