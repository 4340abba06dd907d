"""A refresh after a new artist and a few sales: served when not worse, kept out when worse.

The small warehouse's sales end long before the new ones, so after them the newest 60 days hold
one fan: judged there (ndcg@10 0 by chance) every refresh was rejected and the new artist stayed
unknown to recommendations while the scheduler said "refreshed" (audit 9, D2). The candidate is
now judged on the champion's holdout; the refresh says which model serves.
"""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.errors import EncoreError
from core.settings import Settings
from models.recommend import refresh as refresh_module
from models.recommend import similar_artists, venues_for_artist
from models.recommend import train as train_recommender
from models.recommend.hybrid import HybridModel, Weights
from models.registry import ModelRegistry
from pipelines.commands.schedule import _show
from pipelines.ingest import ingest_files
from pipelines.schedule import PipelineScheduler, Refresher, Tick
from tests.conftest import copy_warehouse, query_warehouse

ARTIST = "Nova Brightwater"


@pytest.fixture
def warehouse(trained_warehouse: Settings, tmp_path: Path) -> Settings:
    """A private copy of the small warehouse whose registry holds an evaluated champion."""
    return copy_warehouse(trained_warehouse, tmp_path / "wh", models=True)


def _write(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _add_new_artist(settings: Settings, folder: Path) -> None:
    """A new artist, one concert and three sales to a returning fan, 90 days after the latest
    sale (the newest 60 days then hold that fan alone)."""
    ((latest,),) = query_warehouse(settings, "SELECT max(sold_at) FROM ticket_sales")
    assert isinstance(latest, datetime)
    at = latest.replace(microsecond=0) + timedelta(days=90)
    ((fan,),) = query_warehouse(
        settings,
        "SELECT fan_id FROM ticket_sales WHERE fan_id IS NOT NULL "
        "GROUP BY fan_id ORDER BY count(*) DESC, fan_id LIMIT 1",
    )
    ((venue,),) = query_warehouse(
        settings, "SELECT venue_id FROM venues WHERE city IS NOT NULL ORDER BY venue_id LIMIT 1"
    )
    folder.mkdir(parents=True, exist_ok=True)
    artists = _write(
        folder / "artists.csv", ["artist_id", "name", "genre", "country"],
        [["A9901", ARTIST, "pop", "US"]],
    )  # fmt: skip
    concerts = _write(
        folder / "concerts.csv",
        ["concert_id", "artist_id", "venue_id", "event_date", "status", "on_sale_date"],
        [["C99001", "A9901", venue, (at + timedelta(days=60)).date(), "scheduled",
          (at - timedelta(days=5)).date()]],
    )  # fmt: skip
    sales = _write(
        folder / "sales.csv",
        ["sale_id", "concert_id", "fan_id", "sold_at", "channel", "price_tier", "quantity",
         "unit_price", "amount"],
        [[f"S99000{i}", "C99001", fan, (at + timedelta(hours=i)).isoformat(), "web", "general",
          2, 40, 80] for i in range(3)],
    )  # fmt: skip
    for path, entity in ((artists, "artists"), (concerts, "concerts"), (sales, "ticket_sales")):
        [outcome] = ingest_files(settings, [path], entity=entity)
        assert outcome.status == "succeeded", outcome.message


def _tick(settings: Settings) -> Tick:
    recommender = Refresher("recommender", train_recommender, frozenset({"ticket_sales"}))
    return PipelineScheduler(settings, use_apis=False, refreshers=[recommender]).tick()


def _ledger(settings: Settings, run_id: str | None) -> tuple[Any, ...]:
    rows = query_warehouse(
        settings,
        f"""SELECT r.status, r.error,
                   (SELECT max(value) FROM pipeline_metrics m
                    WHERE m.run_id = r.run_id AND m.name = 'model_changed'),
                   (SELECT max(value) FROM pipeline_metrics m
                    WHERE m.run_id = r.run_id AND m.name = 'freshness_lag_s')
            FROM pipeline_runs r WHERE r.run_id = '{run_id}'""",
    )
    assert len(rows) == 1, rows
    return tuple(rows[0])


def test_a_new_artist_is_recommendable_after_the_scheduled_refresh(
    warehouse: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(EncoreError, match=ARTIST):
        similar_artists(warehouse, ARTIST)
    champion = ModelRegistry(warehouse).current("recommender")
    assert champion is not None and champion.version == "v0001"
    _add_new_artist(warehouse, tmp_path / "new")

    tick = _tick(warehouse)

    assert [(r.name, r.status) for r in tick.refreshes] == [("recommender", "done")], tick
    [refresh] = tick.refreshes
    assert refresh.served_changed is True
    assert refresh.detail.startswith("refreshed: v0002 now serves"), refresh.detail
    served = ModelRegistry(warehouse).current("recommender")
    assert served is not None and served.version == "v0002", served
    # judged on v0001's holdout, with enough fans, against v0001's own figure
    assert served.not_evaluated is None
    assert served.metrics["eval_fans"] >= refresh_module.MIN_EVAL_FANS
    assert served.decision == (
        f"promoted: ndcg@10 {served.metrics['ndcg@10']:.4g} vs "
        f"{champion.metrics['ndcg@10']:.4g} of v0001"
    )
    assert similar_artists(warehouse, ARTIST), "the new artist has no similar artists"
    assert venues_for_artist(warehouse, ARTIST), "the new artist has no venue suggestions"
    status, error, changed, lag = _ledger(warehouse, refresh.run_id)
    assert (status, error, changed) == ("succeeded", None, 1.0) and lag is not None
    _show(tick)
    out = " ".join(capsys.readouterr().out.split())  # the console wraps at its width
    assert "refreshed recommender" in out and "v0002 now serves" in out, out


WORSE = Weights(cf=-1.0, content=-0.3, popularity=-0.05, repeat=-1.0, same_city=-0.2, venue=-0.3)
"""A really worse recommender (a sign error): it ranks what a fan would like last."""


def test_a_worse_candidate_is_kept_out_and_the_refresh_says_which_model_serves(
    warehouse: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    champion = ModelRegistry(warehouse).current("recommender")
    assert champion is not None
    _add_new_artist(warehouse, tmp_path / "new")
    real_fit = refresh_module.fit_hybrid

    def upside_down(snapshot: Any, **kwargs: Any) -> HybridModel:
        return real_fit(snapshot, **{**kwargs, "weights": WORSE})

    monkeypatch.setattr(refresh_module, "fit_hybrid", upside_down)

    tick = _tick(warehouse)

    [refresh] = tick.refreshes
    versions = ModelRegistry(warehouse).versions("recommender")
    assert (refresh.status, refresh.served_changed) == ("done", False), (refresh, versions)
    rejected = ModelRegistry(warehouse).versions("recommender")[-1]
    assert (rejected.version, rejected.status) == ("v0002", "rejected")
    assert rejected.metrics["eval_fans"] >= refresh_module.MIN_EVAL_FANS
    worse, best = rejected.metrics["ndcg@10"], champion.metrics["ndcg@10"]
    assert worse < best - refresh_module.TIE_TOLERANCE
    served = ModelRegistry(warehouse).current("recommender")
    assert served is not None and served.version == champion.version
    why = f"trained v0002, kept {champion.version}: ndcg@10 {worse:.4g} is worse than {best:.4g}"
    assert refresh.detail.startswith(why), refresh.detail
    status, error, changed, lag = _ledger(warehouse, refresh.run_id)
    assert (status, changed, lag) == ("succeeded", 0.0, None)
    assert error is not None and error.startswith(why), error
    _show(tick)
    out = " ".join(capsys.readouterr().out.split())  # the console wraps at its width
    assert "not refreshed recommender" in out and "refreshed recommender" not in out.replace(
        "not refreshed recommender", ""
    ), out


def test_a_newer_window_with_enough_fans_is_compared_on_the_champions_holdout(
    warehouse: Settings, tmp_path: Path
) -> None:
    champion = ModelRegistry(warehouse).current("recommender")
    assert champion is not None
    ((latest,),) = query_warehouse(warehouse, "SELECT max(sold_at) FROM ticket_sales")
    at = latest.replace(microsecond=0) + timedelta(days=14)  # the newest 60 days: most fans
    ((fan, concert),) = query_warehouse(
        warehouse,
        "SELECT t.fan_id, c.concert_id FROM ticket_sales t, concerts c WHERE t.fan_id IS NOT NULL "
        f"AND c.status <> 'cancelled' AND c.event_date >= DATE '{at.date()}' "
        f"AND coalesce(c.on_sale_date, DATE '{at.date()}') <= DATE '{at.date()}' "
        "ORDER BY t.fan_id, c.concert_id LIMIT 1",
    )
    sales = _write(
        tmp_path / "sales.csv",
        ["sale_id", "concert_id", "fan_id", "sold_at", "channel", "price_tier", "quantity",
         "unit_price", "amount"],
        [["S990100", concert, fan, at.isoformat(), "web", "general", 1, 50, 50]],
    )  # fmt: skip
    [outcome] = ingest_files(warehouse, [sales], entity="ticket_sales")
    assert outcome.status == "succeeded", outcome.message

    result = train_recommender(warehouse)

    # its own figure is on other fans than the champion's: the gate compares the same fans
    assert result["evaluation"]["window"] == {
        "holdout": "newest",
        "end": at.isoformat(),
        "compared_on": f"{champion.version}'s holdout",
    }
    assert result["evaluation"]["eval_fans"] >= refresh_module.MIN_EVAL_FANS
    assert result["served_changed"] is True, result["decision"]
    assert result["decision"].endswith(f"of {champion.version} on the champion's holdout"), result[
        "decision"
    ]
