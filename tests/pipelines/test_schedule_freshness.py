"""A scheduler that loads nothing still sees the data go stale: the freshness check runs on idle
ticks and keeps one warning open until a load brings the data up to date."""

from __future__ import annotations

from core.settings import Settings
from core.warehouse import connect_writer
from pipelines.monitoring import LocalMonitor
from pipelines.schedule import PipelineScheduler
from tests.conftest import query_warehouse

ARTISTS = "artist_id,name,genre,popularity\nA1,Velvet Wolves,indie,40\n"


def _age_the_loads(settings: Settings, days: int) -> None:
    """As if every load had happened `days` ago."""
    con = connect_writer(settings)
    con.execute(f"UPDATE pipeline_runs SET started_at = started_at - INTERVAL {days} DAY, "
                f"finished_at = finished_at - INTERVAL {days} DAY "
                "WHERE pipeline <> 'schedule'")  # fmt: skip
    con.close()


def _stale_alerts(settings: Settings) -> list[tuple[str, int, bool]]:
    con = connect_writer(settings)
    try:
        return [(a.severity, a.occurrences, a.is_open)
                for a in LocalMonitor(con).recent_alerts()
                if a.fingerprint and "stale_entities" in a.fingerprint]  # fmt: skip
    finally:
        con.close()


def test_idle_ticks_alert_on_stale_data_until_a_load_freshens_it(settings: Settings) -> None:
    scheduler = PipelineScheduler(settings, use_apis=False)
    landing = settings.data_dir / "landing"
    landing.mkdir(parents=True)
    (landing / "artists.csv").write_text(ARTISTS)
    loaded = scheduler.tick()
    assert (loaded.records, loaded.stale_entities) == ((1, 1, 0), 0)

    _age_the_loads(settings, days=8)  # a week and more with nothing arriving
    idle = scheduler.tick()
    again = scheduler.tick()
    assert idle.records == (0, 0, 0)  # nothing loaded (the file was loaded before)
    assert (idle.stale_entities, idle.quality_failures) == (1, 1)
    assert _stale_alerts(settings) == [("warning", 2, True)]  # one alert, seen by both ticks
    assert again.status == "succeeded"  # stale data is a warning, not a failed run

    (landing / "artists-2.csv").write_text(ARTISTS.replace("A1,Velvet", "A2,Velvet"))
    fresh = scheduler.tick()
    assert (fresh.records[1], fresh.stale_entities) == (1, 0)
    assert _stale_alerts(settings) == [("warning", 2, False)]  # resolved by the load
    stale_metric = query_warehouse(
        settings, "SELECT value FROM pipeline_metrics WHERE name = 'stale_entities' "
        "ORDER BY recorded_at"
    )  # fmt: skip
    assert stale_metric == [(0.0,), (1.0,), (1.0,), (0.0,)]
