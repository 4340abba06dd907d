"""The analytics dashboard on a trained small warehouse: its numbers against the warehouse, the
filters, the role policy, the drill-downs, the written page and `encore dashboard analytics`."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from core.errors import ValidationError
from core.settings import Settings
from tests.conftest import copy_warehouse, query_warehouse
from tools.context import ToolContext
from tools.dashboard.analytics import build_detail, render_analytics
from tools.dashboard.analytics_data import (
    AnalyticsFilters,
    channel_mix,
    collect_analytics,
    detail_key,
    details,
    predictions,
    resolve,
    totals,
)
from tools.dashboard.cli import app as dashboard_cli

FROM_2025 = AnalyticsFilters(date_from=date(2025, 1, 1), date_to=date(2025, 12, 31))


@pytest.fixture(scope="module")
def warehouse(trained_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return copy_warehouse(trained_warehouse, tmp_path_factory.mktemp("analytics"), models=True)


@pytest.fixture(scope="module")
def analyst(warehouse: Settings) -> ToolContext:
    return ToolContext(warehouse, user="ana", role="analyst")


def _completed(settings: Settings, where: str = "true") -> tuple[int, int]:
    [(tickets, concerts)] = query_warehouse(
        settings,
        "SELECT sum(p.tickets_sold), count(*) FROM concert_performance p "
        "JOIN artists a USING (artist_id) JOIN venues v USING (venue_id) "
        f"WHERE p.status = 'completed' AND {where}",
    )
    return int(tickets or 0), int(concerts)


def test_totals_match_the_warehouse_and_follow_every_filter(analyst: ToolContext) -> None:
    everything = totals(analyst, AnalyticsFilters())
    assert (everything["tickets_sold"], everything["concerts"]) == _completed(analyst.settings)
    sliced = totals(analyst, AnalyticsFilters(date(2025, 1, 1), date(2025, 12, 31), state="CA",
                                              genre="Pop"))  # fmt: skip
    expected = _completed(
        analyst.settings,
        "p.event_date BETWEEN DATE '2025-01-01' AND DATE '2025-12-31' AND v.state = 'CA' "
        "AND a.genre = 'pop'",
    )
    assert (sliced["tickets_sold"], sliced["concerts"]) == expected
    assert 0 < expected[1] < everything["concerts"]


def test_the_page_data_ranks_predicts_and_trends_within_the_filters(analyst: ToolContext) -> None:
    data = collect_analytics(analyst, AnalyticsFilters(state="CA"))
    assert not data.notes and not data.problem
    assert data.ranking and data.ranking.rows
    assert {r.state for r in data.ranking.rows} == {"CA"}
    assert [r.rank for r in data.ranking.rows] == list(range(1, len(data.ranking.rows) + 1))
    assert data.predictions
    for p in data.predictions:
        assert p.tickets_low <= p.tickets_sold <= p.tickets_high
        assert p.low_confidence == (p.confidence < 0.70)
    [(scheduled_in_ca,)] = query_warehouse(
        analyst.settings,
        "SELECT list(concert_id) FROM concerts JOIN venues USING (venue_id) "
        "WHERE status = 'scheduled' AND state = 'CA'",
    )
    assert {p.concert_id for p in data.predictions} <= set(scheduled_in_ca)
    # months add up to the totals; the top artists' lines are those artists
    assert data.months
    assert sum(r[1] for r in data.months.rows) == data.totals["tickets_sold"]
    assert data.artists and data.artist_months
    top = {r[0] for r in data.artists.rows}
    assert {r[1] for r in data.artist_months.rows} == top


def test_predictions_follow_the_artist_and_dates(analyst: ToolContext) -> None:
    [(artist,)] = query_warehouse(
        analyst.settings,
        "SELECT a.name FROM concerts c JOIN artists a USING (artist_id) "
        "WHERE c.status = 'scheduled' GROUP BY ALL ORDER BY count(*) DESC, 1 LIMIT 1",
    )
    made = predictions(analyst, AnalyticsFilters(date(2027, 1, 1), date(2027, 6, 30),
                                                  artist=artist.upper()))  # fmt: skip
    assert made, f"{artist} has scheduled concerts in the first half of 2027"
    assert {p.artist for p in made} == {artist}
    assert all("2027-01-01" <= p.date <= "2027-06-30" for p in made)


def test_partners_see_only_what_their_role_allows(warehouse: Settings) -> None:
    analyst, partner = (ToolContext(warehouse, role=r) for r in ("analyst", "partner"))
    by_channel = {r[0]: r[1:] for r in channel_mix(analyst, FROM_2025).rows}
    assert set(by_channel) == {"web", "mobile", "box_office", "partner"}
    # the policy's row filter: partners see the partner channel's tickets and gross only
    assert channel_mix(partner, FROM_2025).rows == [["partner", *by_channel["partner"]]]
    # aggregates of the contract tables are the same for both
    assert totals(partner, FROM_2025) == totals(analyst, FROM_2025)
    unknown = collect_analytics(ToolContext(warehouse, role="intern"), FROM_2025)
    assert "unknown role 'intern'" in unknown.notes["totals"]
    assert unknown.totals == {} and unknown.months is None


def test_drill_down_shows_a_venues_concerts_and_months(analyst: ToolContext) -> None:
    [(venue_id, venue, city, state, concerts, tickets)] = query_warehouse(
        analyst.settings,
        "SELECT v.venue_id, v.name, v.city, v.state, count(*), "
        "sum(p.tickets_sold) FILTER (p.status = 'completed') "
        "FROM concert_performance p JOIN venues v USING (venue_id) "
        "WHERE p.event_date BETWEEN DATE '2025-01-01' AND DATE '2025-12-31' "
        "GROUP BY ALL ORDER BY count(*) DESC, 1 LIMIT 1",
    )
    found = details(analyst, FROM_2025, "venue", [venue_id])[detail_key("venue", venue_id)]
    assert len(found.concerts.rows) == concerts
    assert sum(r[1] for r in found.months.rows) == tickets
    dates = [r[0] for r in found.concerts.rows]
    assert dates == sorted(dates, reverse=True) and all(d.startswith("2025") for d in dates)
    shown = build_detail(found)
    assert shown["name"] == f"{venue} ({city}, {state})" and shown["key"] == venue_id
    assert len(shown["table"]["rows"]) == concerts
    assert (
        shown["summary"].startswith(f"{concerts:,} concerts")
        and f"{tickets:,} tickets" in (shown["summary"])
    )


def test_a_filter_naming_nothing_is_explained_on_the_page(analyst: ToolContext) -> None:
    data = collect_analytics(analyst, AnalyticsFilters(city="Atlantis</script><b>"))
    assert "no city named 'Atlantis</script><b>'" in data.notes["filters"]
    assert data.totals == {} and data.ranking is None  # nothing is shown for a wrong slice
    page = render_analytics(data, plotlyjs_url="/p.js")
    assert "</script><b>" not in page and "<b>" not in page.split("<main")[1]
    view = re.search(r'id="analytics-view">(.*?)</script>', page, re.S)
    assert view and "Atlantis" in json.loads(view[1])["problem"]
    with pytest.raises(Exception, match="the date range is empty"):
        AnalyticsFilters(date(2025, 2, 1), date(2025, 1, 1))


def test_no_warehouse_is_explained_not_raised(settings: Settings) -> None:
    data = collect_analytics(ToolContext(settings), AnalyticsFilters())
    assert data.problem and "encore demo" in data.problem
    assert "encore demo" in render_analytics(data, plotlyjs_url="/p.js")


def _view_of(page: str) -> dict[str, Any]:
    found = re.search(r'id="analytics-view">(.*?)</script>', page, re.S)
    assert found
    return dict(json.loads(found[1]))


def test_encore_dashboard_analytics_writes_a_page_with_its_drill_downs(
    warehouse: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENCORE_DATA_DIR", str(warehouse.data_dir))
    out = tmp_path / "analytics.html"
    result = CliRunner().invoke(
        dashboard_cli,
        ["dashboard", "analytics", "--out", str(out), "--from", "2025-01-01", "--to",
         "2025-12-31", "--genre", "rock"],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == str(out.resolve())
    tickets, concerts = _completed(
        warehouse,
        "p.event_date BETWEEN DATE '2025-01-01' AND DATE '2025-12-31' AND a.genre = 'rock'",
    )
    assert f"{tickets:,} tickets, {concerts:,} completed concerts" in result.output
    page = out.read_text(encoding="utf-8")
    assert out.stat().st_size > 3_000_000  # plotly.js inline: the file opens offline
    assert 'data-endpoint=""' in page and "<script src=" not in page
    view = _view_of(page)
    assert view["filters"] == {"from": "2025-01-01", "to": "2025-12-31", "genre": "rock"}
    tiles = {t["key"]: t["value"] for t in view["tiles"]}
    assert tiles["tickets_sold"] == f"{tickets:,}"
    # the file has no server: the listed venues and artists open from embedded drill-downs
    venues = view["tables"]["ranking"]["targets"]["1"]  # venues open by id
    artists = [row[0] for row in view["tables"]["artists"]["rows"]]
    assert venues and artists
    assert all(detail_key("venue", v) in view["details"] for v in venues)
    assert all(detail_key("artist", a) in view["details"] for a in artists)
    bad = CliRunner().invoke(dashboard_cli, ["dashboard", "analytics", "--from", "2025-13-01"])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output


@pytest.fixture(scope="module")
def namesakes(
    trained_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory
) -> tuple[ToolContext, list[tuple[str, str, int]]]:
    """A warehouse where the two busiest venues of 2025 in different cities share one name:
    the analyst and, per venue, (id, city, concerts in 2025)."""
    settings = copy_warehouse(trained_warehouse, tmp_path_factory.mktemp("namesakes"), models=True)
    rows = query_warehouse(
        settings,
        "SELECT v.venue_id, v.name, v.city, count(*) FROM concert_performance p "
        "JOIN venues v USING (venue_id) "
        "WHERE p.event_date BETWEEN DATE '2025-01-01' AND DATE '2025-12-31' "
        "GROUP BY ALL ORDER BY count(*) DESC, 1",
    )
    first = rows[0]
    second = next(r for r in rows if r[2] != first[2])
    with duckdb.connect(str(settings.warehouse_file)) as con:
        con.execute("UPDATE venues SET name = ? WHERE venue_id = ?", [first[1], second[0]])
    venues = [(str(r[0]), str(r[2]), int(r[3])) for r in (first, second)]
    return ToolContext(settings, user="ana", role="analyst"), venues


def test_venues_sharing_a_name_drill_down_apart_by_id(
    namesakes: tuple[ToolContext, list[tuple[str, str, int]]],
) -> None:
    ctx, venues = namesakes
    ids = [venue_id for venue_id, _, _ in venues]
    found = details(ctx, FROM_2025, "venue", ids)
    headings = set()
    for venue_id, city, concerts in venues:
        shown = build_detail(found[detail_key("venue", venue_id)])
        assert len(shown["table"]["rows"]) == concerts  # not both venues' concerts together
        assert f"({city}, " in shown["name"]  # the heading names the city
        headings.add(shown["name"])
    assert len(headings) == 2
    # an id opens its venue; the shared name alone asks which one, naming both cities
    assert resolve(ctx, "venue", ids[1]) == ids[1]
    shared = found[detail_key("venue", ids[0])].title.rsplit(" (", 1)[0]
    with pytest.raises(ValidationError) as refused:
        resolve(ctx, "venue", shared.lower())
    assert all(city in str(refused.value) for _, city, _ in venues)
    assert set(refused.value.detail["suggestions"]) == set(ids)


def test_the_page_links_each_namesake_to_its_own_venue(
    namesakes: tuple[ToolContext, list[tuple[str, str, int]]],
) -> None:
    ctx, _ = namesakes
    data = collect_analytics(ctx, AnalyticsFilters(), embed_details=True)  # with what is to come
    assert data.ranking and data.predictions
    view = _view_of(render_analytics(data, plotlyjs_url="/p.js"))
    ranked_ids = view["tables"]["ranking"]["targets"]["1"]
    assert ranked_ids == [r.venue_id for r in data.ranking.rows]
    assert all(detail_key("venue", i) in view["details"] for i in ranked_ids)
    assert set(view["panels"]["ranking"]["figure"]["data"][0]["customdata"]) == set(ranked_ids)
    predicted = view["tables"]["predictions"]
    for row, target in zip(predicted["rows"], predicted["targets"]["2"], strict=True):
        assert target and row[2].endswith(")")  # "Name (City, ST)", opening its venue's id
