"""The model commands end to end on a small warehouse: train, evaluate, predict, drift, bench."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.settings import Settings
from models.commands import app
from tests.conftest import copy_warehouse, query_warehouse

runner = CliRunner()


@pytest.fixture(scope="module")
def env(small_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    settings = copy_warehouse(small_warehouse, tmp_path_factory.mktemp("commands"))
    return {"ENCORE_DATA_DIR": str(settings.data_dir)}


def test_train_evaluate_predict_drift(env: dict[str, str]) -> None:
    trained = runner.invoke(app, ["train", "sales_forecast"], env=env)
    assert trained.exit_code == 0, trained.output
    assert "capacity_x_median_st" in trained.output and "within ±20%" in trained.output
    ranking = runner.invoke(app, ["train", "venue_ranking"], env=env)
    assert ranking.exit_code == 0 and "venue_ranking" in ranking.output

    evaluated = runner.invoke(app, ["evaluate", "--json"], env=env)
    versions = json.loads(evaluated.output)["versions"]
    assert {v["model"] for v in versions} == {"sales_forecast", "venue_ranking"}
    forecast = next(v for v in versions if v["model"] == "sales_forecast")
    assert forecast["metrics"]["mape"] < forecast["metrics"]["capacity_x_median_st_mape"]
    table = runner.invoke(app, ["evaluate"], env=env).output
    assert "sales_forecast" in table and "venue_ranking" in table

    data_dir = Path(env["ENCORE_DATA_DIR"])
    artist, venue = query_warehouse(
        Settings(data_dir=data_dir),
        "SELECT a.name, v.name FROM concerts c JOIN artists a USING (artist_id) "
        "JOIN venues v USING (venue_id) ORDER BY c.concert_id LIMIT 1",
    )[0]
    predicted = runner.invoke(
        app,
        ["predict", "--artist", str(artist), "--venue", str(venue), "--date", "2026-12-24"],
        env=env,
    )
    assert predicted.exit_code == 0, predicted.output
    assert "confidence:" in predicted.output and "interval" in predicted.output
    unknown = runner.invoke(
        app,
        ["predict", "--artist", "Zzqx Nobody", "--venue", str(venue), "--date", "2026-12-24"],
        env=env,
    )
    assert unknown.exit_code == 1 and "no artist named" in unknown.output

    drift = runner.invoke(app, ["drift", "--json", "--no-alert"], env=env)
    assert drift.exit_code == 0, drift.output
    report = json.loads(drift.output)
    assert report["drift"]["features"] and "prediction" in report["drift"]


def test_unknown_model_is_refused(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["train", "nonsense"], env=env)
    assert result.exit_code != 0 and "choose one of" in result.output
