"""The registry's rule for versions without an evaluation, and for unmeasured (NaN) metrics."""

from __future__ import annotations

import pytest

from core.errors import ValidationError
from core.settings import Settings
from models.registry import ModelRegistry, metric_text

_WHY = "no fan in the 60-day holdout window has both purchases before it and a candidate"


def _register(
    registry: ModelRegistry, metrics: dict[str, float], not_evaluated: str | None = None
) -> str:
    meta = registry.register(
        "rec", {"w": 1}, metrics=metrics, params={}, data_snapshot={}, not_evaluated=not_evaluated
    )
    return meta.version


def _promote(registry: ModelRegistry, version: str) -> bool:
    return registry.promote("rec", version, primary_metric="ndcg@10", higher_is_better=True)


def test_an_unevaluated_version_is_promoted_with_its_reason(settings: Settings) -> None:
    registry = ModelRegistry(settings)
    assert _promote(registry, _register(registry, {"ndcg@10": 0.5, "eval_fans": 140}))
    unevaluated = _register(registry, {"eval_fans": 0}, not_evaluated=_WHY)

    assert _promote(registry, unevaluated)
    champion = registry.current("rec")
    assert champion is not None and champion.version == unevaluated
    assert champion.decision == (
        f"promoted without evaluation ({_WHY}); not compared with ndcg@10 0.5 of v0001"
    )
    assert [v.status for v in registry.versions("rec")] == ["retired", "champion"]

    # the next evaluated version has nothing to be compared with, even a poor score
    evaluated = _register(registry, {"ndcg@10": 0.1})
    assert _promote(registry, evaluated)
    latest = registry.versions("rec")[-1]
    assert latest.status == "champion"
    assert latest.decision == "promoted: ndcg@10 0.1; v0002 had nothing to compare with " + (
        "(not evaluated)"
    )
    # and from there on the gate compares again
    assert not _promote(registry, _register(registry, {"ndcg@10": 0.05}))
    assert registry.current("rec").version == evaluated  # type: ignore[union-attr]


def test_a_first_unevaluated_version_becomes_the_champion(settings: Settings) -> None:
    registry = ModelRegistry(settings)
    version = _register(registry, {}, not_evaluated=_WHY)
    assert _promote(registry, version)
    assert registry.versions("rec")[0].decision == (
        f"promoted without evaluation ({_WHY}) (first champion)"
    )


def test_a_missing_metric_without_a_reason_is_still_refused(settings: Settings) -> None:
    registry = ModelRegistry(settings)
    version = _register(registry, {"ndgc@10": 0.3})  # misspelt: not "not evaluated"
    with pytest.raises(ValidationError, match="has no metric 'ndcg@10'; it has: ndgc@10"):
        _promote(registry, version)


def test_unmeasured_metrics_are_left_out_and_never_read_as_numbers(settings: Settings) -> None:
    registry = ModelRegistry(settings)
    version = _register(registry, {"ndcg@10": 0.4, "artist_ndcg@10": float("nan")})
    assert registry.versions("rec")[0].metrics == {"ndcg@10": 0.4}
    assert _promote(registry, version)
    assert metric_text("mape", float("nan")) == "n/a"


def test_training_output_shows_an_uncounted_hit_rate_as_n_a(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from models.commands import _print_holdout

    scores = {"mae": 1.0, "rmse": 2.0, "mape": 0.1}
    _print_holdout(
        {
            "rows": {"train": 6, "calibration": 2, "test": 2},
            "test_window": ["2026-01-01", "2026-02-01"],
            "metrics": {"model": {**scores, "coverage": 0.8}, "artist_mean": scores},
            "calibration": {
                "share_confident": 0.0,
                "hit_rate_confident": float("nan"),  # no prediction was confident
                "hit_rate_low_confidence": 0.5,
            },
        }
    )
    out = capsys.readouterr().out
    assert "of those n/a landed within ±20% (others: 50.0%)" in " ".join(out.split())
    assert "nan" not in out.lower()
