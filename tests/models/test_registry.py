"""The model registry: versions on disk, promotion only when not worse, rollback, clear errors."""

from __future__ import annotations

import json
from datetime import date

import pytest

from core.errors import ValidationError
from core.settings import Settings
from core.warehouse import reading
from models.registry import (
    ModelNotTrainedError,
    ModelRegistry,
    metric_text,
    warehouse_snapshot,
)


def _register(registry: ModelRegistry, mae: float, payload: object = None) -> str:
    meta = registry.register(
        "sales_forecast",
        payload if payload is not None else {"mae": mae},
        metrics={"mae": mae},
        params={"depth": 3},
        data_snapshot={"rows": 10},
    )
    return meta.version


def test_first_version_is_champion_and_loads(settings: Settings) -> None:
    registry = ModelRegistry(settings)
    version = _register(registry, 10.0)
    assert version == "v0001"
    assert registry.promote("sales_forecast", version, primary_metric="mae", higher_is_better=False)
    artifact, meta = registry.load("sales_forecast")
    assert artifact == {"mae": 10.0}
    assert meta.status == "champion" and meta.params == {"depth": 3}
    on_disk = json.loads(
        (settings.models_dir / "sales_forecast" / "v0001" / "meta.json").read_text()
    )
    assert on_disk["metrics"] == {"mae": 10.0} and on_disk["data_snapshot"] == {"rows": 10}


def test_worse_version_is_rejected_better_is_promoted(settings: Settings) -> None:
    registry = ModelRegistry(settings)
    first = _register(registry, 10.0)
    registry.promote("sales_forecast", first, primary_metric="mae", higher_is_better=False)
    worse = _register(registry, 12.0)
    assert not registry.promote(
        "sales_forecast", worse, primary_metric="mae", higher_is_better=False
    )
    rejected = registry.versions("sales_forecast")[1]
    assert rejected.status == "rejected" and "worse" in (rejected.decision or "")
    assert registry.current("sales_forecast").version == first  # type: ignore[union-attr]
    tie = _register(registry, 10.0)
    assert registry.promote("sales_forecast", tie, primary_metric="mae", higher_is_better=False)
    assert registry.load("sales_forecast")[1].version == tie


def test_a_date_metric_reads_as_a_date_in_the_decision(settings: Settings) -> None:
    """Freshness (the last event date a ranking saw) is compared as a day number, shown as a
    date."""
    registry = ModelRegistry(settings)
    day = float(date(2025, 10, 16).toordinal())
    for value in (day, day - 1):
        version = registry.register(
            "venue_ranking", {}, metrics={"data_day": value}, params={}, data_snapshot={}
        ).version
        registry.promote("venue_ranking", version, primary_metric="data_day", higher_is_better=True)
    first, second = registry.versions("venue_ranking")
    assert first.decision == "promoted: data_day 2025-10-16 (first champion)"
    assert second.decision == "kept v0001: data_day 2025-10-15 is worse than 2025-10-16"
    assert metric_text("mae", 309.27) == "309.3"


def test_rollback_restores_previous_champion(settings: Settings) -> None:
    registry = ModelRegistry(settings)
    for mae in (10.0, 9.0):
        v = _register(registry, mae)
        registry.promote("sales_forecast", v, primary_metric="mae", higher_is_better=False)
    restored = registry.rollback("sales_forecast")
    assert restored.version == "v0001"
    assert registry.load("sales_forecast")[0] == {"mae": 10.0}
    assert registry.versions("sales_forecast")[1].status == "retired"
    with pytest.raises(ValidationError, match="no previous champion"):
        registry.rollback("sales_forecast")


def test_load_without_champion_names_the_train_command(settings: Settings) -> None:
    registry = ModelRegistry(settings)
    with pytest.raises(ModelNotTrainedError, match="encore train venue_ranking"):
        registry.load("venue_ranking")
    _register(registry, 1.0)
    with pytest.raises(ModelNotTrainedError):
        registry.load("sales_forecast")  # registered but never promoted
    assert registry.load("sales_forecast", "v0001")[1].status == "candidate"


def test_bad_names_and_versions_are_refused(settings: Settings) -> None:
    registry = ModelRegistry(settings)
    with pytest.raises(ValidationError, match="lower-case"):
        registry.versions("../etc")
    _register(registry, 1.0)
    with pytest.raises(ValidationError, match="versions: v0001"):
        registry.load("sales_forecast", "v0009")
    with pytest.raises(ValidationError, match="no metric"):
        registry.promote("sales_forecast", "v0001", primary_metric="rmse", higher_is_better=False)


def test_no_staging_leftovers(settings: Settings) -> None:
    registry = ModelRegistry(settings)
    _register(registry, 1.0)
    _register(registry, 2.0)
    names = sorted(p.name for p in (settings.models_dir / "sales_forecast").iterdir())
    assert names == ["v0001", "v0002"]


def test_warehouse_snapshot(small_warehouse: Settings) -> None:
    with reading(small_warehouse) as con:
        snap = warehouse_snapshot(con)
    assert snap["rows_concerts"] == 1500
    assert (
        snap["max_completed_event_date"] is not None
        and snap["max_completed_event_date"] <= "2026-11-01"
    )


def test_changed_evaluation_protocol_is_not_compared(settings: Settings) -> None:
    registry = ModelRegistry(settings)
    for mae, protocol in ((1.0, "a"), (2.0, "a"), (3.0, "b")):
        v = registry.register(
            "sales_forecast",
            {},
            metrics={"mae": mae},
            params={"protocol": protocol},
            data_snapshot={},
        )
        registry.promote(
            "sales_forecast",
            v.version,
            primary_metric="mae",
            higher_is_better=False,
            protocol_param="protocol",
        )
    assert [v.status for v in registry.versions("sales_forecast")] == [
        "retired",
        "rejected",
        "champion",
    ]


def test_serving_reuses_the_unpickled_champion_until_a_new_one_is_promoted(
    settings: Settings,
) -> None:
    registry = ModelRegistry(settings)
    first = _register(registry, 10.0, payload={"weights": [1, 2, 3]})
    registry.promote("sales_forecast", first, primary_metric="mae", higher_is_better=False)
    artifact, _ = registry.load("sales_forecast")
    assert ModelRegistry(settings).load("sales_forecast")[0] is artifact  # not unpickled again
    better = _register(registry, 5.0, payload={"weights": [4, 5, 6]})
    registry.promote("sales_forecast", better, primary_metric="mae", higher_is_better=False)
    assert registry.load("sales_forecast")[0] == {"weights": [4, 5, 6]}
    assert registry.load("sales_forecast", first)[0] is artifact
