"""Pipeline monitoring (requirements 5.1, 5.3): metrics, alerts and alert rules.

The local monitor and the rules load eagerly; `CloudWatchMonitor` loads on first use so the
embedded path never imports boto3.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import duckdb

from core.settings import Settings
from pipelines.monitoring.base import (
    DEFAULT_RULES,
    Alert,
    AlertRule,
    Metric,
    Monitor,
    MonitoringError,
    Severity,
    Unit,
    evaluate_rules,
    fingerprint_for,
    record_run,
    unit_for,
)
from pipelines.monitoring.local import FanOutMonitor, LocalMonitor

if TYPE_CHECKING:
    from pipelines.monitoring.cloudwatch import CloudWatchMonitor

__all__ = [
    "DEFAULT_RULES",
    "Alert",
    "AlertRule",
    "CloudWatchMonitor",
    "FanOutMonitor",
    "LocalMonitor",
    "Metric",
    "Monitor",
    "MonitoringError",
    "Severity",
    "Unit",
    "evaluate_rules",
    "fingerprint_for",
    "open_monitor",
    "record_run",
    "unit_for",
]


def open_monitor(settings: Settings, con: duckdb.DuckDBPyConnection) -> Monitor:
    """The warehouse tables always; CloudWatch as well on the `aws` profile (never blocking)."""
    local = LocalMonitor(con)
    if settings.profile != "aws":
        return local
    from pipelines.monitoring.cloudwatch import CloudWatchMonitor

    cloud = CloudWatchMonitor(endpoint_url=settings.aws_endpoint_url, region=settings.aws_region)
    return FanOutMonitor(local, cloud)


def __getattr__(name: str) -> Any:
    if name == "CloudWatchMonitor":
        from pipelines.monitoring.cloudwatch import CloudWatchMonitor

        return CloudWatchMonitor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
