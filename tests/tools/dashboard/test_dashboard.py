"""The pipeline-health dashboard over real ingestion runs: what it counts, filters, and writes."""

from __future__ import annotations

import re
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from core.settings import Settings
from core.warehouse import writing
from models.registry import ModelRegistry
from pipelines.monitoring import LocalMonitor
from tests.conftest import copy_warehouse, query_warehouse
from tools.dashboard import (
    DashboardData,
    Filters,
    build_panels,
    collect,
    render_html,
    summarize,
    write_dashboard,
)
from tools.dashboard.cli import app as dashboard_cli


def _ledger(settings: Settings, where: str = "true") -> dict[str, int]:
    [(runs, records_in, accepted, quarantined)] = query_warehouse(
        settings,
        "SELECT count(*), sum(records_in), sum(accepted), sum(quarantined) "
        f"FROM pipeline_runs WHERE {where}",
    )
    return {"runs": int(runs), "records_in": int(records_in or 0), "accepted": int(accepted or 0),
            "quarantined": int(quarantined or 0)}  # fmt: skip


def _figures(data: DashboardData) -> dict[str, Any]:
    return {p.key: p.figure for p in build_panels(data)}


def _traces(figure: Any) -> dict[str, dict[str, Any]]:
    """name -> {x value: y value} of each trace."""
    return {t.name: dict(zip(t.x, t.y, strict=True)) for t in figure.data}


def test_figures_and_tiles_show_the_runs_and_quarantine_the_ledger_recorded(
    ingested: Settings,
) -> None:
    ledger = _ledger(ingested)
    assert ledger == {"runs": 3, "records_in": 7, "accepted": 5, "quarantined": 2}
    data = collect(ingested, Filters.last(30))
    health = summarize(data)
    assert (health.runs, health.records_in, health.accepted, health.quarantined) == (3, 7, 5, 2)
    assert health.runs_by_status == {"succeeded": 2, "failed": 1}
    assert health.failed_runs == 1
    assert health.message.startswith("Needs attention: 1 failed run(s)")

    figures = _figures(data)
    runs = _traces(figures["runs"])
    assert sum(runs["succeeded"].values()) == 2 and sum(runs["failed"].values()) == 1
    records = _traces(figures["records"])
    assert records["records in"] == {"crm": 5, "landing": 2, "partner-feed": 0}
    assert records["quarantined"] == {"crm": 2, "landing": 0, "partner-feed": 0}

    # reasons are grouped by the rule broken; the offending values are not shown
    reasons = figures["reasons"]
    shown = dict(zip(reasons.data[0].y, reasons.data[0].x, strict=True))
    assert shown["artists · name: missing"] == 1
    assert shown["artists · followers: invalid_number"] == 1
    assert not any("n/a" in label or "140" in label for label in shown)

    # the failed run raised a critical alert; the bad crm file a quarantine-rate alert
    assert {a.source for a in health.open_alerts} >= {"ingest:partner-feed", "ingest:crm"}
    assert any("none of the columns" in e for e in health.recent_errors)
    fresh = {f.table: f for f in health.freshness}
    assert fresh["artists"].via == "pipeline" and not fresh["artists"].stale
    assert fresh["fans"].via == "build"  # only ever generated, never loaded by a pipeline
    assert health.quality_checks == len(data.quality) > 10


def test_source_and_date_filters_change_the_counts(ingested: Settings) -> None:
    crm = summarize(collect(ingested, Filters.last(30, "crm")))
    assert (crm.runs, crm.records_in, crm.quarantined) == (1, 5, 2)
    assert [s.source for s in crm.sources] == ["crm"]
    assert {a.source for a in crm.open_alerts} == {"ingest:crm"}

    partner = collect(ingested, Filters.last(30, "partner-feed"))
    assert summarize(partner).failed_runs == 1
    assert partner.reasons == []  # nothing quarantined by that source
    assert _figures(partner)["reasons"] is None

    [(first,)] = query_warehouse(ingested, "SELECT min(started_at) FROM pipeline_runs")
    before = Filters(first - timedelta(days=30), first)
    earlier = summarize(collect(ingested, before))
    assert earlier.runs == 0 and earlier.message.startswith("No runs match")
    today = summarize(collect(ingested, Filters.last(since=date.today(), until=date.today())))
    assert today.runs == 3


def test_a_warehouse_without_runs_shows_what_to_run(small_warehouse: Settings) -> None:
    data = collect(small_warehouse, Filters.last(30))
    assert data.empty and data.problem is None
    page = render_html(data, plotlyjs_url="/plotly.js")
    assert "No runs yet" in page and "encore pipeline run" in page
    assert "No runs in this window." in page  # the run charts say so instead of drawing
    assert summarize(data).quality_checks > 0  # quality and freshness still show


def test_no_warehouse_at_all_is_explained_not_raised(settings: Settings) -> None:
    data = collect(settings, Filters.last(30))
    assert data.problem and "encore demo" in data.problem
    assert "encore demo" in render_html(data, plotlyjs_url="/plotly.js")
    assert summarize(data).runs == 0


def test_a_resolved_alert_leaves_the_board(ingested: Settings, tmp_path: Path) -> None:
    settings = copy_warehouse(ingested, tmp_path)
    with writing(settings) as con:
        monitor = LocalMonitor(con)
        monitor.alert("critical", "ingest:crm", "feed broke", fingerprint="crm-feed")
        monitor.alert("warning", "ingest:crm", "feed slow", fingerprint="crm-slow")
        monitor.resolve("crm-feed")  # the input recovered
    shown = {a.message for a in collect(settings, Filters.last(30)).alerts}
    assert "feed slow" in shown and "feed broke" not in shown


def test_the_html_file_is_self_contained_and_escapes_what_the_data_says(
    ingested: Settings, tmp_path: Path
) -> None:
    settings = copy_warehouse(ingested, tmp_path)
    hostile = "</script><script>window.pwned=1</script><img src=x onerror=alert(1)>"
    with writing(settings) as con:
        LocalMonitor(con).alert("warning", "ingest:crm", hostile)
    out = write_dashboard(collect(settings, Filters.last(30)), tmp_path / "out" / "dashboard.html")
    page = out.read_text(encoding="utf-8")
    sources = re.findall(r"<(?:script|link|img|iframe)\b[^>]*(?:src|href)=[\"']?([^\"' >]+)", page)
    assert sources == []  # nothing loaded from anywhere: plotly.js is inline
    assert "Plotly.newPlot" in page and len(page) > 3_000_000
    assert hostile not in page and "window.pwned=1</script>" not in page
    assert "&lt;/script&gt;&lt;script&gt;window.pwned=1" in page  # shown, as text


def test_model_health_from_the_registry_and_model_alerts(
    ingested: Settings, tmp_path: Path
) -> None:
    settings = copy_warehouse(ingested, tmp_path)
    registry = ModelRegistry(settings)
    version = registry.register(
        "venue_ranking", {"weights": [1, 2]}, metrics={"venues": 87.0}, params={},
        data_snapshot={},
    )  # fmt: skip
    registry.promote(
        "venue_ranking", version.version, primary_metric="venues", higher_is_better=True
    )
    with writing(settings) as con:
        LocalMonitor(con).alert("warning", "model:venue_ranking", "rankings drifted")
    # a forecaster that cannot be loaded: drift is reported as not measured, never an error
    forecast = registry.register(
        "sales_forecast", {"not": "a forecaster"}, metrics={"mape": 0.25}, params={},
        data_snapshot={},
    )  # fmt: skip
    registry.promote("sales_forecast", forecast.version, primary_metric="mape",
                     higher_is_better=False)  # fmt: skip
    models = {m.name: m for m in summarize(collect(settings, Filters.last(30, "crm"))).models}
    ranking = models["venue_ranking"]
    assert (ranking.champion, ranking.holdout_metric, ranking.holdout_value) == (
        version.version, "venues", 87.0,
    )  # fmt: skip
    assert ranking.drift == "alert" and "rankings drifted" in ranking.drift_detail
    assert models["sales_forecast"].holdout_value == 0.25

    # a server asks for drift in the background: the first page does not wait for it
    first = {m.name: m for m in collect(settings, Filters.last(30), drift="background").models}
    assert first["sales_forecast"].drift_detail.startswith("being measured")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        later = {m.name: m for m in collect(settings, Filters.last(30), drift="background").models}
        if not later["sales_forecast"].drift_detail.startswith("being measured"):
            break
        time.sleep(0.2)
    assert later["sales_forecast"].drift == "unknown"
    assert "not a SalesForecaster" in later["sales_forecast"].drift_detail


def test_encore_dashboard_writes_the_page_and_prints_its_path(
    ingested: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENCORE_DATA_DIR", str(ingested.data_dir))
    out = tmp_path / "health.html"
    result = CliRunner().invoke(
        dashboard_cli,
        ["dashboard", "--out", str(out), "--source", "crm", "--no-drift"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == str(out.resolve())
    assert "1 runs (0 failed), 5 records in, 2 quarantined" in result.output
    assert out.stat().st_size > 3_000_000
    assert datetime.now() - datetime.fromtimestamp(out.stat().st_mtime) < timedelta(minutes=1)
