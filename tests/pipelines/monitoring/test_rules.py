"""Alert rules: which run metrics raise which alerts, and the units metrics are sent with."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pytest

from pipelines.monitoring import (
    DEFAULT_RULES,
    Alert,
    AlertRule,
    Monitor,
    evaluate_rules,
    record_run,
    unit_for,
)
from pipelines.monitoring.base import utc_now


class RecordingMonitor:
    """Keeps what it is sent in lists, so rule tests need no backend."""

    def __init__(self) -> None:
        self.metrics: list[tuple[str, float, str, str | None, dict[str, str]]] = []
        self.alerts: list[Alert] = []
        self.resolved: list[str] = []
        self.flushes = 0

    def metric(
        self,
        name: str,
        value: float,
        *,
        unit: Any = "count",
        run_id: str | None = None,
        dimensions: Mapping[str, str] | None = None,
    ) -> None:
        self.metrics.append((name, value, unit, run_id, dict(dimensions or {})))

    def alert(
        self,
        severity: Any,
        source: str,
        message: str,
        *,
        run_id: str | None = None,
        details: Mapping[str, Any] | None = None,
        alert_id: str | None = None,
        fingerprint: str | None = None,
    ) -> str:
        alert_id = alert_id or f"a{len(self.alerts)}"
        self.alerts.append(
            Alert(alert_id, utc_now(), severity, source, message, run_id, dict(details or {}),
                  fingerprint=fingerprint)
        )  # fmt: skip
        return alert_id

    def resolve(self, *fingerprints: str, run_id: str | None = None) -> list[str]:
        self.resolved.extend(fingerprints)
        return []

    def recent_alerts(self, limit: int = 50, *, unacknowledged_only: bool = False) -> list[Alert]:
        return self.alerts[::-1][:limit]

    def open_alerts(self, source: str | None = None) -> list[Alert]:
        return [a for a in self.alerts if source in (None, a.source)]

    def acknowledge(self, alert_id: str) -> None:
        pass

    def flush(self) -> None:
        self.flushes += 1


@pytest.fixture
def recorder() -> RecordingMonitor:
    return RecordingMonitor()


def test_recording_monitor_satisfies_the_protocol(recorder: RecordingMonitor) -> None:
    assert isinstance(recorder, Monitor)


def test_a_healthy_run_raises_nothing(recorder: RecordingMonitor) -> None:
    healthy = {
        "quarantine_rate": 0.05,  # exactly at the threshold is still fine
        "run_failed": 0,
        "retries_exhausted": 0,
        "duration_s": 899.0,
        "records_in": 10_000,
    }
    assert evaluate_rules(recorder, healthy, DEFAULT_RULES, run_id="r1", source="ingest") == []
    assert recorder.alerts == []


def test_a_raised_quarantine_rate_warns_with_the_rate_in_the_message(
    recorder: RecordingMonitor,
) -> None:
    ids = evaluate_rules(recorder, {"quarantine_rate": 0.1}, run_id="r1", source="ingest")
    [alert] = recorder.alerts
    assert ids == [alert.alert_id]
    assert alert.severity == "warning"
    assert alert.source == "ingest"
    assert alert.run_id == "r1"
    assert "10.0%" in alert.message
    assert alert.details == {
        "rule": "quarantine_rate-gt-0.05",
        "metric": "quarantine_rate",
        "op": ">",
        "threshold": 0.05,
        "value": 0.1,
    }


def test_a_very_high_quarantine_rate_raises_one_critical_alert_not_two(
    recorder: RecordingMonitor,
) -> None:
    evaluate_rules(recorder, {"quarantine_rate": 0.3}, run_id="r1", source="ingest")
    assert [a.severity for a in recorder.alerts] == ["critical"]
    assert "30.0%" in recorder.alerts[0].message


def test_failures_retries_and_slowness_each_raise_their_alert(recorder: RecordingMonitor) -> None:
    metrics = {"run_failed": 1, "retries_exhausted": 2, "duration_s": 1200.0}
    ids = evaluate_rules(recorder, metrics, run_id="r2", source="stream")
    assert len(ids) == 3
    by_metric = {a.details["metric"]: a for a in recorder.alerts}
    assert by_metric["run_failed"].severity == "critical"
    assert by_metric["retries_exhausted"].severity == "critical"
    assert "2 step(s)" in by_metric["retries_exhausted"].message
    assert by_metric["duration_s"].severity == "warning"
    assert "1200 s" in by_metric["duration_s"].message


def test_missing_and_nan_metrics_never_alert(recorder: RecordingMonitor) -> None:
    evaluate_rules(recorder, {"quarantine_rate": math.nan}, run_id=None, source="ingest")
    evaluate_rules(recorder, {}, run_id=None, source="ingest")
    assert recorder.alerts == []


def test_custom_rules_with_less_than_operators(recorder: RecordingMonitor) -> None:
    rule = AlertRule(
        metric="records_in",
        op="<",
        threshold=1,
        severity="warning",
        message="{metric} was {value:.0f}; the source sent nothing",
    )
    assert rule.name == "records_in-lt-1"
    evaluate_rules(recorder, {"records_in": 0}, [rule], run_id="r3", source="api:spotify")
    [alert] = recorder.alerts
    assert alert.message == "records_in was 0; the source sent nothing"
    assert evaluate_rules(recorder, {"records_in": 5}, [rule], run_id="r4", source="x") == []


def test_rules_refuse_unknown_operators_and_severities() -> None:
    with pytest.raises(ValueError, match="op must be one of"):
        AlertRule(metric="m", op="==", threshold=1, severity="warning", message="")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="severity must be one of"):
        AlertRule(metric="m", op=">", threshold=1, severity="fatal", message="")  # type: ignore[arg-type]


def test_default_rule_names_are_unique() -> None:
    names = [rule.name for rule in DEFAULT_RULES]
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    ("name", "unit"),
    [
        ("duration_s", "seconds"),
        ("fetch_ms", "milliseconds"),
        ("quarantine_rate", "ratio"),
        ("bytes_written_bytes", "bytes"),
        ("records_in", "count"),
    ],
)
def test_units_are_inferred_from_metric_names(name: str, unit: str) -> None:
    assert unit_for(name) == unit


def test_record_run_emits_flushes_then_alerts(recorder: RecordingMonitor) -> None:
    metrics = {"records_in": 200, "quarantine_rate": 0.5, "duration_s": 3.5}
    ids = record_run(
        recorder, metrics, run_id="r5", source="ingest", dimensions={"pipeline": "ingest"}
    )
    assert [(m[0], m[2]) for m in recorder.metrics] == [
        ("records_in", "count"),
        ("quarantine_rate", "ratio"),
        ("duration_s", "seconds"),
    ]
    assert all(m[3] == "r5" and m[4] == {"pipeline": "ingest"} for m in recorder.metrics)
    assert recorder.flushes == 1
    assert len(ids) == 1
    assert recorder.alerts[0].severity == "critical"
