"""The CloudWatch dashboard against a real moto server, fed by a real ingestion run's metrics."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.settings import Settings
from pipelines.ingest import ingest_files
from pipelines.monitoring import DEFAULT_RULES, CloudWatchMonitor, MonitoringError, record_run
from pipelines.monitoring.cloudwatch_dashboard import (
    PIPELINE_METRICS,
    charted_metrics,
    dashboard_body,
    publish_dashboard,
)
from tests.conftest import query_warehouse

ARTISTS = [
    ["Artist ID", "Artist Name", "Primary Genre", "Popularity"],
    ["c1", "Velvet Wolves", "indie", "44"],
    ["c2", "", "pop", "50"],  # no name: quarantined
    ["c3", "Loud Noise", "metal", "140"],  # popularity out of range: quarantined
    ["c4", "Quiet Harbour", "folk", "30"],
]


def _replay_run_metrics(settings: Settings, monitor: CloudWatchMonitor) -> None:
    """Send what the run recorded in `pipeline_metrics` to CloudWatch, as the aws profile does."""
    rows = query_warehouse(
        settings,
        "SELECT r.run_id, r.source, any_value(m.dimensions), "
        "map_from_entries(list({'k': m.name, 'v': m.value})) "
        "FROM pipeline_metrics m JOIN pipeline_runs r USING (run_id) GROUP BY ALL",
    )
    for run_id, source, dimensions, metrics in rows:
        record_run(monitor, dict(metrics), run_id=str(run_id), source=f"ingest:{source}",
                   dimensions=json.loads(str(dimensions)))  # fmt: skip


ARTISTS_SERIES = {"entity": "artists", "pipeline": "ingest"}


def _sum(cloudwatch: Any, namespace: str, name: str) -> float:
    """The artists series the per-entity widgets find (moto, unlike CloudWatch, adds the
    dimensioned points into a dimensionless query, so the rolled-up series is not asked)."""
    now = datetime.now(UTC)
    points = cloudwatch.get_metric_statistics(
        Namespace=namespace, MetricName=name, StartTime=now - timedelta(hours=1),
        Dimensions=[{"Name": k, "Value": v} for k, v in ARTISTS_SERIES.items()],
        EndTime=now + timedelta(minutes=5), Period=3600, Statistics=["Sum"],
    )["Datapoints"]  # fmt: skip
    return float(sum(p["Sum"] for p in points))


def test_the_dashboard_charts_every_metric_a_run_sends_and_the_rule_alarms(
    settings: Settings, tmp_path: Path, monitor: CloudWatchMonitor, cloudwatch: Any, namespace: str
) -> None:
    path = tmp_path / "artists.csv"
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows(ARTISTS)
    [outcome] = ingest_files(settings, [path], source="crm")
    assert outcome.run is not None and outcome.run.quarantined == 2
    _replay_run_metrics(settings, monitor)
    _replay_run_metrics(settings, monitor)  # the same problem again: its alert repeats
    monitor.ensure_alarms(DEFAULT_RULES)

    name = f"Encore-Test-{namespace.rsplit('/', 1)[1]}"
    result = publish_dashboard(cloudwatch, name, namespace=namespace, log_group=monitor.log_group)
    assert result.messages == []
    body = json.loads(cloudwatch.get_dashboard(DashboardName=name)["DashboardBody"])

    sent = {m["MetricName"] for m in cloudwatch.list_metrics(Namespace=namespace)["Metrics"]}
    # the 40% quarantine alerted, then repeated
    assert sent >= set(PIPELINE_METRICS) | {"AlertsRaised", "AlertRepeats"}
    assert sent <= charted_metrics(body)  # nothing the pipelines send goes unseen
    # the series the widgets read hold what the ledger recorded
    [(records_in, quarantined)] = query_warehouse(
        settings, "SELECT sum(records_in), sum(quarantined) FROM pipeline_runs"
    )
    assert _sum(cloudwatch, namespace, "records_in") == 2 * records_in == 8
    assert _sum(cloudwatch, namespace, "quarantined") == 2 * quarantined == 4

    alarms = cloudwatch.describe_alarms(AlarmNamePrefix=f"{namespace}/")["MetricAlarms"]
    [alarm_widget] = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert alarm_widget["properties"]["alarms"] == sorted(a["AlarmArn"] for a in alarms)
    assert len(alarms) == len(result.alarms) == len(DEFAULT_RULES)
    [log_widget] = [w for w in body["widgets"] if w["type"] == "log"]
    assert f"SOURCE '{monitor.log_group}'" in log_widget["properties"]["query"]

    again = publish_dashboard(cloudwatch, name, namespace=namespace, log_group=monitor.log_group)
    listed = cloudwatch.list_dashboards(DashboardNamePrefix=name)["DashboardEntries"]
    assert [d["DashboardName"] for d in listed] == [name]  # published again = updated in place
    assert again.widgets == result.widgets
    assert again.console_url.endswith(f"#dashboards/dashboard/{name}")


def test_rule_thresholds_are_drawn_and_bad_names_refused(cloudwatch: Any) -> None:
    body = dashboard_body(namespace="Encore/Pipelines")
    lines = {
        w["properties"]["title"]: [a["value"] for a in w["properties"]["annotations"]["horizontal"]]
        for w in body["widgets"]
        if "annotations" in w.get("properties", {})
    }
    assert lines["Quarantine rate (worst run)"] == [0.05, 0.25]
    assert lines["Run duration (s)"] == [900.0]
    assert not any(w["type"] == "alarm" for w in body["widgets"])  # no alarms yet: no widget
    with pytest.raises(MonitoringError, match="letters, digits"):
        publish_dashboard(cloudwatch, "Encore pipelines!")


def test_encore_dashboard_aws_publishes_it(
    moto_url: str, cloudwatch: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from tools.dashboard.cli import app

    monkeypatch.setenv("ENCORE_DATA_DIR", str(tmp_path / "encore"))
    monkeypatch.setenv("ENCORE_AWS_ENDPOINT_URL", moto_url)
    name = "Encore-Cli-Test"
    args = ["dashboard", "--out", str(tmp_path / "d.html"), "--no-drift", "--aws", "--name", name]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"CloudWatch dashboard {name} published with" in " ".join(result.output.split())
    assert json.loads(cloudwatch.get_dashboard(DashboardName=name)["DashboardBody"])["widgets"]
