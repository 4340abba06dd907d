"""`encore aws sync` on moto's server: each step reports what it did; missing settings are named."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from core.settings import Settings
from pipelines.aws.commands import app

ANALYST = "arn:aws:iam::123456789012:role/encore-analyst"


def _env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setenv("ENCORE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ENCORE_LAKE_BUCKET", str(settings.lake_bucket))
    monkeypatch.setenv("ENCORE_AWS_ENDPOINT_URL", str(settings.aws_endpoint_url))
    monkeypatch.setenv("ENCORE_GLUE_DATABASE", settings.glue_database)
    # analysts only: their grants need no data cells filters, which moto lacks
    monkeypatch.setenv("ENCORE_LAKEFORMATION_PRINCIPALS", json.dumps({"analyst": ANALYST}))


def test_sync_reports_created_then_up_to_date(
    ingested: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _env(monkeypatch, ingested)
    runner = CliRunner()
    first = runner.invoke(app, ["sync", "--catalog", "--grants"], terminal_width=200)
    assert first.exit_code == 0, first.output
    assert f"created  table {ingested.glue_database}.fans" in first.output
    assert (
        "created  grant encore-analyst on fans(age_band, country, favorite_genre)" in first.output
    )
    assert "catalog: " in first.output and "grants: " in first.output

    second = runner.invoke(app, ["sync", "--catalog", "--grants"], terminal_width=200)
    assert second.exit_code == 0, second.output
    assert "created" not in second.output and "updated" not in second.output
    assert f"skipped  table {ingested.glue_database}.fans: up to date" in second.output


def test_a_step_missing_settings_fails_by_name_and_the_others_still_run(
    ingested: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _env(monkeypatch, ingested)
    result = CliRunner().invoke(
        app, ["sync", "--warehouse", "--models", "--catalog"], terminal_width=200
    )
    assert result.exit_code == 1
    assert "ENCORE_REDSHIFT_IAM_ROLE" in result.output
    assert "ENCORE_SAGEMAKER_IMAGE_URI" in result.output
    assert "catalog: " in result.output  # ran despite the failures
    assert "failed steps: warehouse, models" in result.output


def test_warehouse_step_on_moto_fails_naming_the_statement_that_never_finished(
    ingested: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _env(monkeypatch, ingested)
    monkeypatch.setenv("ENCORE_REDSHIFT_WORKGROUP", "encore")
    monkeypatch.setenv("ENCORE_REDSHIFT_IAM_ROLE", "arn:aws:iam::123456789012:role/copy")
    monkeypatch.setenv("ENCORE_REDSHIFT_TIMEOUT_S", "0.3")
    result = CliRunner().invoke(app, ["sync", "--warehouse"], terminal_width=300)
    assert result.exit_code == 1
    assert "'CREATE SCHEMA IF NOT EXISTS public'" in result.output
    assert "did not finish within 0.3 s" in result.output
