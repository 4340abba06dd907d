"""S3 lifecycle rules: the lake's tiering at scale (requirement 7.5), applied idempotently.

    raw/         STANDARD_IA after `ia_days`, GLACIER_IR after `glacier_days`, deleted after
                 `raw_expiry_days` when that is set
    curated/     INTELLIGENT_TIERING at once: S3 moves each object by its own access pattern,
                 which is what the local access log does for raw partitions
    quarantine/  deleted after `quarantine_expiry_days` when that is set
    (all)        incomplete multipart uploads aborted after `multipart_abort_days`

S3 lifecycle rules see an object's age, not its reads; Intelligent-Tiering is the access-based
part. Rules are replaced only when they differ, so a rerun changes nothing.
"""

from __future__ import annotations

from typing import Any

from core.aws import SyncReport, aws_call
from pipelines.lake.tiering import TierPolicy

_PREFIX = "encore-"  # rules of ours; others on the bucket are kept as they are


def lifecycle_rules(policy: TierPolicy) -> list[dict[str, Any]]:
    """The bucket lifecycle rules the policy asks for (S3's LifecycleConfiguration Rules)."""
    raw: dict[str, Any] = {
        "ID": f"{_PREFIX}raw-tiering",
        "Filter": {"Prefix": "raw/"},
        "Status": "Enabled",
        "Transitions": [
            {"Days": policy.ia_days, "StorageClass": "STANDARD_IA"},
            {"Days": max(policy.glacier_days, policy.ia_days + 30), "StorageClass": "GLACIER_IR"},
        ],
    }
    if policy.raw_expiry_days:
        raw["Expiration"] = {"Days": policy.raw_expiry_days}
    rules = [
        raw,
        {
            "ID": f"{_PREFIX}curated-intelligent-tiering",
            "Filter": {"Prefix": "curated/"},
            "Status": "Enabled",
            "Transitions": [{"Days": 0, "StorageClass": "INTELLIGENT_TIERING"}],
        },
        {
            "ID": f"{_PREFIX}abort-incomplete-uploads",
            "Filter": {"Prefix": ""},
            "Status": "Enabled",
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": policy.multipart_abort_days},
        },
    ]
    if policy.quarantine_expiry_days:
        rules.append(
            {
                "ID": f"{_PREFIX}quarantine-expiry",
                "Filter": {"Prefix": "quarantine/"},
                "Status": "Enabled",
                "Expiration": {"Days": policy.quarantine_expiry_days},
            }
        )
    return rules


def _current(client: Any, bucket: str) -> list[dict[str, Any]]:
    from botocore.exceptions import ClientError

    try:
        rules: list[dict[str, Any]] = client.get_bucket_lifecycle_configuration(Bucket=bucket)[
            "Rules"
        ]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchLifecycleConfiguration":
            return []
        raise
    return rules


def _normal(rule: dict[str, Any]) -> dict[str, Any]:
    """A rule as S3 returns it, for comparison (S3 adds empty fields; order does not matter)."""
    keys = ("ID", "Filter", "Status", "Transitions", "Expiration", "AbortIncompleteMultipartUpload")
    return {k: rule[k] for k in keys if rule.get(k)}


def apply_lifecycle(client: Any, bucket: str, policy: TierPolicy) -> SyncReport:
    """Set the lake bucket's lifecycle rules; rules not ours are kept, unchanged ones skipped."""
    report = SyncReport(step="lifecycle")
    wanted = {r["ID"]: r for r in lifecycle_rules(policy)}
    with aws_call(f"read the lifecycle rules of s3://{bucket}", bucket=bucket):
        current = {r["ID"]: r for r in _current(client, bucket)}
    for rule_id, rule in wanted.items():
        if rule_id not in current:
            report.created.append(rule_id)
        elif _normal(current[rule_id]) != _normal(rule):
            report.updated.append(rule_id)
        else:
            report.skipped.append(f"{rule_id}: unchanged")
    stale = [i for i in current if i.startswith(_PREFIX) and i not in wanted]
    report.deleted.extend(stale)
    if not report.changed:
        return report
    others = [r for i, r in current.items() if not i.startswith(_PREFIX)]
    with aws_call(f"set the lifecycle rules of s3://{bucket}", bucket=bucket):
        client.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": [*others, *wanted.values()]}
        )
    return report
