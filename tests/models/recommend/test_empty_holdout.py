"""Retraining when new data leaves the 60-day holdout without a fan to evaluate.

The small warehouse's sales end long before its "now", so after one new sale the holdout window
holds that sale only: a first-time buyer, or a returning fan buying a cancelled concert, leaves
nothing to measure. The recommender must still be retrained and served, through `encore train`
and through the scheduler's refresh: judged on the champion's holdout when that can be rebuilt,
else registered as not evaluated (with the reason) and promoted.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from core.settings import Settings
from models.commands import app
from models.recommend import recommend_concerts
from models.recommend import train as train_recommender
from models.registry import ModelRegistry
from pipelines.ingest import ingest_files
from pipelines.schedule import PipelineScheduler, Refresher
from tests.conftest import copy_warehouse, query_warehouse

runner = CliRunner()

_HEADER = "sale_id,concert_id,fan_id,sold_at,channel,price_tier,quantity,unit_price,amount\n"


@pytest.fixture
def warehouse(trained_warehouse: Settings, tmp_path: Path) -> Settings:
    """A private copy of the small warehouse whose registry holds an evaluated recommender."""
    return copy_warehouse(trained_warehouse, tmp_path, models=True)


def _new_sale_time(settings: Settings) -> datetime:
    """90 days after the latest sale: the holdout window then holds only the new sales."""
    (latest,) = query_warehouse(settings, "SELECT max(sold_at) FROM ticket_sales")[0]
    assert isinstance(latest, datetime)
    return latest.replace(microsecond=0) + timedelta(days=90)


def _one(settings: Settings, sql: str, at: datetime) -> str:
    rows = query_warehouse(settings, sql.replace("$at", f"TIMESTAMP '{at.isoformat(' ')}'"))
    assert rows, f"the small warehouse has no row for: {sql}"
    return str(rows[0][0])


def _candidate_concert(settings: Settings, at: datetime) -> str:
    """A concert the holdout can recommend: not cancelled, on sale by `at`, not over yet."""
    return _one(
        settings,
        "SELECT concert_id FROM concerts WHERE status <> 'cancelled' AND event_date >= $at::DATE "
        "AND coalesce(on_sale_date, $at::DATE) <= $at::DATE ORDER BY concert_id LIMIT 1",
        at,
    )


def _returning_fan(settings: Settings, at: datetime) -> str:
    return _one(
        settings,
        "SELECT fan_id FROM ticket_sales WHERE fan_id IS NOT NULL AND sold_at < $at "
        "GROUP BY fan_id ORDER BY count(*) DESC, fan_id LIMIT 1",
        at,
    )


def _sales_csv(folder: Path, name: str, rows: list[tuple[str, str, str, datetime]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(
        _HEADER
        + "".join(
            f"{sale},{concert},{fan},{at.isoformat()},web,general,2,26,52\n"
            for sale, concert, fan, at in rows
        )
    )
    return path


def _versions(settings: Settings) -> list[dict[str, Any]]:
    result = runner.invoke(
        app, ["evaluate", "--model", "recommender", "--json"], env=_env(settings)
    )
    assert result.exit_code == 0, result.output
    versions: list[dict[str, Any]] = json.loads(result.output)["versions"]
    for version in versions:  # nothing unmeasured may pass for a score
        assert all(math.isfinite(v) for v in version["metrics"].values()), version
    return versions


def _env(settings: Settings) -> dict[str, str]:
    return {"ENCORE_DATA_DIR": str(settings.data_dir), "COLUMNS": "250"}


def test_a_first_time_buyer_is_served_after_the_scheduled_refresh(
    warehouse: Settings, tmp_path: Path
) -> None:
    at = _new_sale_time(warehouse)
    fan = _one(
        warehouse,
        "SELECT fan_id FROM fans WHERE fan_id NOT IN "
        "(SELECT fan_id FROM ticket_sales WHERE fan_id IS NOT NULL) ORDER BY fan_id LIMIT 1",
        at,
    )
    concert = _candidate_concert(warehouse, at)
    before = recommend_concerts(warehouse, fan_id=fan)
    assert not any("whom you saw" in row["reason"] for row in before)  # a cold start

    _sales_csv(warehouse.data_dir / "landing", "sales.csv", [("S960001", concert, fan, at)])
    recommender = Refresher("recommender", train_recommender, frozenset({"ticket_sales"}))
    tick = PipelineScheduler(warehouse, use_apis=False, refreshers=[recommender]).tick()

    assert tick.status == "succeeded", tick
    assert [(r.name, r.status) for r in tick.refreshes] == [("recommender", "done")], tick.refreshes
    assert tick.refreshes[0].detail.startswith("refreshed: v0002 now serves"), tick.refreshes
    champion = ModelRegistry(warehouse).current("recommender")
    assert champion is not None and champion.version == "v0002"
    # measured on v0001's holdout, not on the new window's nothing
    assert champion.not_evaluated is None and champion.metrics["eval_fans"] >= 20
    # the new champion knows the purchase: the fan is no longer a cold start
    after = recommend_concerts(warehouse, fan_id=fan)
    assert any("whom you saw" in row["reason"] for row in after), after

    first, second = _versions(warehouse)
    assert (first["status"], second["status"]) == ("retired", "champion")
    assert second["decision"] == (
        f"promoted: ndcg@10 {second['metrics']['ndcg@10']:.4g} "
        f"vs {first['metrics']['ndcg@10']:.4g} of v0001"
    )
    table = runner.invoke(app, ["evaluate", "--model", "recommender"], env=_env(warehouse))
    assert table.exit_code == 0 and "nan" not in table.output.lower(), table.output


def test_a_cancelled_show_then_an_evaluable_sale_retrain_from_the_command_line(
    trained_warehouse: Settings, tmp_path: Path
) -> None:
    # no champion yet: no holdout of its to fall back on, so the tiny windows are not evaluated
    warehouse = copy_warehouse(trained_warehouse, tmp_path / "bare")
    at = _new_sale_time(warehouse)
    fan = _returning_fan(warehouse, at)
    cancelled = _one(
        warehouse,
        "SELECT concert_id FROM concerts WHERE status = 'cancelled' ORDER BY concert_id LIMIT 1",
        at,
    )
    ingest_files(warehouse, [_sales_csv(tmp_path, "a.csv", [("S960002", cancelled, fan, at)])])

    first = runner.invoke(app, ["train", "recommender"], env=_env(warehouse))
    assert first.exit_code == 0, first.output
    assert "evaluation: not available" in first.output and "returning fan" in first.output
    assert "promoted=True" in first.output
    unevaluated = ModelRegistry(warehouse).current("recommender")
    assert unevaluated is not None and unevaluated.version == "v0001"

    later = at + timedelta(days=1)
    concert = _candidate_concert(warehouse, later)
    ingest_files(warehouse, [_sales_csv(tmp_path, "b.csv", [("S960003", concert, fan, later)])])
    second = runner.invoke(app, ["train", "recommender", "--json"], env=_env(warehouse))
    assert second.exit_code == 0, second.output
    result = json.loads(second.output)["recommender"]
    # one fan cannot judge a model (its ndcg@10 is 0 or a hit by chance): not evaluated
    evaluation = result["evaluation"]
    assert (evaluation["available"], evaluation["eval_fans"]) == (False, 1), evaluation
    assert "holds 1 evaluable fan(s), fewer than the 20 needed" in evaluation["reason"]
    assert result["promoted"] is True and result["version"] == "v0002"
    assert result["summary"] == "refreshed: v0002 now serves"

    versions = _versions(warehouse)
    assert [v["status"] for v in versions] == ["retired", "champion"]
    newest = versions[-1]
    assert newest["not_evaluated"] == evaluation["reason"] and "ndcg@10" not in newest["metrics"]
    assert newest["decision"].endswith("v0001 had nothing to compare with (not evaluated)")


def test_a_second_refresh_is_judged_on_the_holdout_its_champion_was_judged_on(
    warehouse: Settings, tmp_path: Path
) -> None:
    at = _new_sale_time(warehouse)
    fan = _returning_fan(warehouse, at)
    for n, day in enumerate((0, 1)):
        when = at + timedelta(days=day)
        concert = _candidate_concert(warehouse, when)
        sale = [(f"S96001{n}", concert, fan, when)]
        ingest_files(warehouse, [_sales_csv(tmp_path, f"{n}.csv", sale)])
        result = train_recommender(warehouse)
        assert result["promoted"] is True, result
    first, second, third = ModelRegistry(warehouse).versions("recommender")
    # v0002 was judged on v0001's window and recorded it; v0003 (one fan in its newest 60 days)
    # is judged there too, on the same fans as v0001
    assert result["evaluation"]["window"]["holdout"] == "v0002's"
    assert first.metrics["eval_fans"] == third.metrics["eval_fans"] >= 20
    ends = [v.params["holdout_end"] for v in (first, second, third)]
    assert ends == [first.data_snapshot["latest_sale"]] * 3, ends
