"""The pipeline-health dashboard at scale: a CloudWatch dashboard over what `CloudWatchMonitor`
sends (requirement 5.2).

The widgets read the rolled-up (dimensionless) series every pipeline feeds, per-entity series
through SEARCH expressions (so a new entity shows up without republishing), the alarms
`ensure_alarms` made from the alert rules, and the alert events in the CloudWatch Logs group.
`put_dashboard` replaces a dashboard of the same name, so publishing again is an update.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from core.aws import aws_call
from pipelines.monitoring.base import DEFAULT_RULES, AlertRule, MonitoringError
from pipelines.monitoring.cloudwatch import ALERTS_METRIC, REPEATS_METRIC

DEFAULT_NAME: Final = "Encore-Pipelines"
DEFAULT_NAMESPACE: Final = "Encore/Pipelines"
DEFAULT_LOG_GROUP: Final = "/encore/alerts"

PIPELINE_METRICS: Final = (
    "records_in",
    "accepted",
    "quarantined",
    "quarantine_rate",
    "inserted",
    "updated",
    "duration_s",
    "run_failed",
    "retries_exhausted",
)
"""What each ingestion run records (pipelines.ingest `_report`); every one has a widget."""

ENTITY_DIMENSIONS: Final = ("entity", "pipeline")
"""The dimensions ingestion runs send besides the rolled-up series."""

_NAME: Final = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_WIDTH: Final = 24  # the dashboard grid is 24 units wide


@dataclass
class DashboardResult:
    """What `publish_dashboard` did."""

    name: str
    region: str
    widgets: int
    alarms: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    """CloudWatch's validation messages (a widget it could not read); empty when all is well."""

    @property
    def console_url(self) -> str:
        return (
            f"https://{self.region}.console.aws.amazon.com/cloudwatch/home?region={self.region}"
            f"#dashboards/dashboard/{self.name}"
        )


def _metric(namespace: str, name: str, stat: str, label: str, **extra: Any) -> list[Any]:
    return [namespace, name, {"stat": stat, "label": label, **extra}]


def _search(namespace: str, metric: str, stat: str, period_s: int, ident: str) -> dict[str, Any]:
    dims = ",".join(ENTITY_DIMENSIONS)
    return {
        "expression": f"SEARCH('{{{namespace},{dims}}} MetricName=\"{metric}\"', '{stat}', "
        f"{period_s})",
        "id": ident,
        "label": "",
    }


def _graph(
    title: str,
    metrics: list[Any],
    *,
    region: str,
    period_s: int,
    x: int,
    y: int,
    width: int = 12,
    height: int = 6,
    view: str = "timeSeries",
    stacked: bool = False,
    lines: Iterable[tuple[str, float]] = (),
) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "title": title,
        "region": region,
        "view": view,
        "stacked": stacked,
        "period": period_s,
        "metrics": metrics,
    }
    horizontal = [{"label": label, "value": value} for label, value in lines]
    if horizontal:
        properties["annotations"] = {"horizontal": horizontal}
    return {"type": "metric", "x": x, "y": y, "width": width, "height": height,
            "properties": properties}  # fmt: skip


def _thresholds(rules: Iterable[AlertRule], metric: str) -> list[tuple[str, float]]:
    return [(f"{r.severity} {r.op} {r.threshold:g}", r.threshold) for r in rules
            if r.metric == metric]  # fmt: skip


def dashboard_body(
    *,
    namespace: str = DEFAULT_NAMESPACE,
    region: str = "us-east-1",
    log_group: str = DEFAULT_LOG_GROUP,
    period_s: int = 300,
    alarm_arns: Sequence[str] = (),
    rules: Iterable[AlertRule] = DEFAULT_RULES,
) -> dict[str, Any]:
    """The dashboard's JSON body: the same panels as `encore dashboard`, from CloudWatch data."""
    rules = tuple(rules)
    ns = namespace
    graph = functools.partial(_graph, region=region, period_s=period_s)
    widgets: list[dict[str, Any]] = [
        {
            "type": "text", "x": 0, "y": 0, "width": _WIDTH, "height": 2,
            "properties": {"markdown": (
                "# Encore pipeline health\n"
                f"Metrics of namespace `{ns}` (every pipeline rolled up, and per entity), the "
                f"alarms of the alert rules, and alerts from `{log_group}`. The local view of "
                "the same data is `encore dashboard`."
            )},
        },
        graph("Runs and failures", [
            _metric(ns, "duration_s", "SampleCount", "runs"),
            _metric(ns, "run_failed", "Sum", "failed runs", color="#d62728"),
            _metric(ns, "retries_exhausted", "Sum", "retries exhausted", color="#ff7f0e"),
            [ns, ALERTS_METRIC, "severity", "critical",
             {"stat": "Sum", "label": "new critical alerts", "color": "#9467bd"}],
            [ns, REPEATS_METRIC, "severity", "critical",
             {"stat": "Sum", "label": "critical alerts repeated", "color": "#c5b0d5"}],
        ], x=0, y=2, view="bar"),
        graph("Records in, accepted, quarantined", [
            _metric(ns, "records_in", "Sum", "records in"),
            _metric(ns, "accepted", "Sum", "accepted", color="#2ca02c"),
            _metric(ns, "quarantined", "Sum", "quarantined", color="#ff7f0e"),
        ], x=12, y=2),
        graph("Quarantine rate (worst run)", [
            _metric(ns, "quarantine_rate", "Maximum", "quarantine rate"),
        ], x=0, y=8, lines=_thresholds(rules, "quarantine_rate")),
        graph("Run duration (s)", [
            _metric(ns, "duration_s", "p50", "p50"),
            _metric(ns, "duration_s", "p95", "p95", color="#d62728"),
        ], x=12, y=8, lines=_thresholds(rules, "duration_s")),
        graph("Records in per entity", [
            _search(ns, "records_in", "Sum", period_s, "records"),
        ], x=0, y=14, stacked=True),
        graph("Quarantine rate per entity", [
            _search(ns, "quarantine_rate", "Maximum", period_s, "rate"),
        ], x=12, y=14),
        graph("Rows merged into the warehouse", [
            _metric(ns, "inserted", "Sum", "inserted"),
            _metric(ns, "updated", "Sum", "updated"),
        ], x=0, y=20),
        {
            "type": "log", "x": 12, "y": 20, "width": 12, "height": 6,
            "properties": {
                "title": "Latest alerts",
                "region": region,
                "view": "table",
                "query": (
                    f"SOURCE '{log_group}' | fields @timestamp, severity, source, message, "
                    "run_id | filter event = 'alert' | sort @timestamp desc | limit 50"
                ),
            },
        },
    ]  # fmt: skip
    if alarm_arns:
        widgets.append(
            {
                "type": "alarm", "x": 0, "y": 26, "width": _WIDTH, "height": 3,
                "properties": {"title": "Alert-rule alarms", "alarms": list(alarm_arns)},
            }
        )  # fmt: skip
    return {"start": "-P7D", "periodOverride": "inherit", "widgets": widgets}


def charted_metrics(body: Mapping[str, Any]) -> set[str]:
    """The metric names a dashboard body charts, directly or through SEARCH expressions."""
    names: set[str] = set()
    for widget in body.get("widgets", []):
        for entry in widget.get("properties", {}).get("metrics", []):
            if isinstance(entry, list) and len(entry) >= 2:
                names.add(str(entry[1]))
            elif isinstance(entry, dict):
                names.update(re.findall(r'MetricName="([^"]+)"', str(entry.get("expression"))))
    return names


def _alarm_arns(cloudwatch: Any, namespace: str) -> list[str]:
    """The ARNs of the alarms `CloudWatchMonitor.ensure_alarms` named after `namespace`."""
    arns: list[str] = []
    kwargs: dict[str, Any] = {"AlarmNamePrefix": f"{namespace}/", "AlarmTypes": ["MetricAlarm"]}
    while True:
        with aws_call("list the pipeline alarms", error=MonitoringError, namespace=namespace):
            page = cloudwatch.describe_alarms(**kwargs)
        arns += [a["AlarmArn"] for a in page.get("MetricAlarms", []) if a.get("AlarmArn")]
        token = page.get("NextToken")
        if not token:
            return sorted(arns)
        kwargs["NextToken"] = token


def publish_dashboard(
    cloudwatch: Any,
    name: str = DEFAULT_NAME,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    log_group: str = DEFAULT_LOG_GROUP,
    period_s: int = 300,
) -> DashboardResult:
    """Create or replace the CloudWatch dashboard `name` (with the namespace's alarms on it).

    `cloudwatch` is a boto3 CloudWatch client (`core.aws.client("cloudwatch", settings)`); its
    region is the one the widgets read.
    """
    if not _NAME.match(name):
        raise MonitoringError(
            f"CloudWatch dashboard names use letters, digits, '-' and '_' (at most 255); "
            f"got {name!r}",
            name=name,
        )
    client = cloudwatch
    region = str(client.meta.region_name)
    alarms = _alarm_arns(client, namespace)
    body = dashboard_body(namespace=namespace, region=region, log_group=log_group,
                          period_s=period_s, alarm_arns=alarms)  # fmt: skip
    with aws_call(f"publish CloudWatch dashboard {name!r}", error=MonitoringError, name=name):
        reply = client.put_dashboard(DashboardName=name, DashboardBody=json.dumps(body))
    messages = [
        f"{m.get('DataPath', '')}: {m.get('Message', '')}"
        for m in reply.get("DashboardValidationMessages", [])
    ]
    return DashboardResult(name, region, len(body["widgets"]), alarms, messages)
