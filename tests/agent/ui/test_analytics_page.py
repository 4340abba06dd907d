"""The analytics page in a real Chromium against `encore ui`: sign in, open /analytics from the
header, change a filter and drill into a venue, and see the numbers change."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.agent.ui.conftest import App, signed_in
from tests.conftest import query_warehouse

pytestmark = pytest.mark.browser

TICKETS = '[data-tile="tickets_sold"] .v'


@pytest.fixture(scope="module")
def requested() -> list[str]:
    """The URLs the tab asked for."""
    return []


@pytest.fixture(scope="module")
def tab(ui_app: App, browser: Any, requested: list[str]) -> Iterator[Any]:
    """A signed-in tab on the chat page; every request it makes is recorded."""
    viewport = {"width": 1280, "height": 1000}
    with signed_in(ui_app, browser, requests=requested, viewport=viewport) as page:
        yield page


def _changed(tab: Any, selector: str, before: str) -> str:
    tab.wait_for_function(
        "([s, b]) => { const e = document.querySelector(s); return e && e.textContent !== b; }",
        arg=[selector, before],
        timeout=30_000,
    )
    return str(tab.locator(selector).inner_text())


def test_filter_and_drill_into_a_venue(tab: Any, ui_app: App) -> None:
    assert tab.locator('a[href="/analytics"]').count() == 1  # the header link
    started = time.monotonic()
    # the first view loads scikit-learn and predicts in a cold server: allow for a busy machine
    tab.goto(ui_app.url + "/analytics", timeout=120_000)
    tab.wait_for_selector("#panel-ranking.js-plotly-plot", timeout=60_000)
    print(f"\n/analytics drawn {time.monotonic() - started:.1f} s after the first request")
    everything = tab.locator(TICKETS).inner_text()
    [(all_tickets,)] = query_warehouse(
        ui_app.settings,
        "SELECT sum(tickets_sold) FROM concert_performance WHERE status = 'completed'",
    )
    assert everything == f"{all_tickets:,}"

    # a filter asks the server for a new view: the tiles and tables follow
    tab.select_option('select[name="state"]', "CA")
    in_ca = _changed(tab, TICKETS, everything)
    [(ca_tickets,)] = query_warehouse(
        ui_app.settings,
        "SELECT sum(p.tickets_sold) FROM concert_performance p JOIN venues v USING (venue_id) "
        "WHERE p.status = 'completed' AND v.state = 'CA'",
    )
    assert in_ca == f"{ca_tickets:,}"
    assert "state=CA" in tab.url
    states = tab.locator("#table-ranking tbody td:nth-child(4)").all_inner_texts()
    assert states and set(states) == {"CA"}

    # a click on a ranked venue opens its concerts and months
    venue = tab.locator("#table-ranking a[data-kind='venue']").first
    venue_id = str(venue.get_attribute("data-name"))  # a venue opens by id: names repeat
    venue.click()
    tab.wait_for_selector("#detail h2[data-detail='venue']", timeout=30_000)
    [(name, city, concerts)] = query_warehouse(
        ui_app.settings,
        "SELECT any_value(name), any_value(city), count(*) FROM concert_performance "
        f"JOIN venues USING (venue_id) WHERE venue_id = '{venue_id}'",
    )
    assert tab.locator("#detail h2").inner_text() == f"Venue: {name} ({city}, CA)"
    assert tab.locator("#detail-table tbody tr").count() == concerts
    summary = tab.locator("#detail .summary").inner_text()
    assert summary.startswith(f"{concerts:,} concerts")
    assert tab.locator("#detail-chart.js-plotly-plot").count() == 1

    # the open drill-down follows the filters too
    tab.fill('input[name="from"]', "2026-01-01")
    tab.dispatch_event('input[name="from"]', "change")
    narrower = _changed(tab, "#detail .summary", summary)
    dates = tab.locator("#detail-table tbody td:first-child").all_inner_texts()
    assert all(d >= "2026-01-01" for d in dates), dates
    assert int(narrower.split()[0].replace(",", "")) == len(dates) < concerts


def test_the_page_made_no_request_off_the_machine(requested: list[str]) -> None:
    hosts = {urlsplit(u).hostname for u in requested if not u.startswith("data:")}
    assert any("/analytics/data" in u for u in requested)
    assert hosts <= {"127.0.0.1"}, hosts


def test_the_written_page_drills_down_offline(
    browser: Any, ui_app: App, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from tools.context import ToolContext
    from tools.dashboard.analytics import write_analytics
    from tools.dashboard.analytics_data import AnalyticsData, AnalyticsFilters, details, top_artists

    # the artists' part of the page only: enough to click, without loading the forecaster
    ctx, filters = ToolContext(ui_app.settings), AnalyticsFilters(genre="rock")
    artists = top_artists(ctx, filters)
    data = AnalyticsData(filters, ctx.role, datetime.now(), "test", artists=artists)
    data.details = details(ctx, filters, "artist", [str(row[0]) for row in artists.rows])
    path = write_analytics(data, tmp_path_factory.mktemp("written") / "analytics.html")
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    try:
        page = context.new_page()
        page.goto(path.as_uri())
        assert page.locator('select[name="genre"]').is_disabled()  # filters are the command's
        artist = page.locator("#table-artists a[data-kind='artist']").first
        name = artist.inner_text()
        artist.click()
        page.wait_for_selector("#detail h2[data-detail='artist']", timeout=10_000)
        assert page.locator("#detail h2").inner_text() == f"Artist: {name}"
        expected = data.details[f"artist:{name.lower()}"].concerts.rows
        assert page.locator("#detail-table tbody tr").count() == len(expected) > 0
    finally:
        context.close()
