"""The chat page end to end on the real agent: log in, demo conversations, refusal, upload,
resume with tables and charts, offline.

The tests share one `encore ui` server and one logged-in tab and run in file order: the upload and
the resume use the thread the trend question opened.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from agent.ui.demo import conversations
from tests.agent.ui.conftest import App, signed_in

pytestmark = pytest.mark.browser

ASSISTANT = '[data-step-type="assistant_message"]'
CHART = ".js-plotly-plot"
# a dataframe element (an interactive grid), as opposed to a markdown table in the answer text
DATAFRAME = ".dataframe"
ROOT = Path(__file__).resolve().parents[3]
SCREENSHOT_MAX_BYTES = 300_000


@pytest.fixture(scope="module")
def page(ui_app: App, browser: Any) -> Iterator[Any]:
    """A logged-in page; every request it makes is recorded in `ui_app.requests`."""
    with signed_in(ui_app, browser, requests=ui_app.requests) as tab:
        yield tab


def type_message(page: Any, text: str) -> None:
    """Type into the chat box as a user does and send."""
    page.click("#chat-input")
    page.keyboard.type(text)
    # disabled until the page's socket is connected and the typed text has reached its state
    expect(page.locator("#chat-submit")).to_be_enabled(timeout=60_000)
    page.click("#chat-submit")


def ask(page: Any, text: str, timeout_s: float = 60) -> tuple[Any, float]:
    """Send a message and wait for the assistant's answer to finish; returns it and the seconds."""
    before = page.locator(ASSISTANT).count()
    started = time.monotonic()
    type_message(page, text)
    page.wait_for_function(
        f"document.querySelectorAll('{ASSISTANT}').length > {before}", timeout=timeout_s * 1000
    )
    page.wait_for_selector("#stop-button", state="detached", timeout=timeout_s * 1000)
    return page.locator(ASSISTANT).last, time.monotonic() - started


def test_encore_ui_prints_the_address_and_the_demo_login(ui_app: App, page: Any) -> None:
    assert f"Encore chat UI: {ui_app.url}" in ui_app.printed
    assert f"Demo login: {ui_app.user} / {ui_app.password}" in ui_app.printed
    assert page.locator("#chat-input").count() == 1  # that login signed the page in


def test_header_links_to_the_pipeline_dashboard(page: Any) -> None:
    assert page.locator('a[href="/dashboard"]').count() == 1


def test_wrong_password_is_refused(ui_app: App, browser: Any) -> None:
    tab = browser.new_page()
    tab.goto(ui_app.url)
    tab.fill("#email", ui_app.user)
    tab.fill("#password", "not-the-password")
    tab.keyboard.press("Enter")
    tab.wait_for_timeout(1500)
    assert tab.locator("#chat-input").count() == 0
    tab.close()


def test_starters_name_demo_data(page: Any) -> None:
    body = page.inner_text("body")
    assert "What are the best venues in New York for rock concerts?" in body
    assert "Tell me about " in body


def shown(page: Any) -> tuple[int, int]:
    """How many dataframe grids and plotly charts the page shows."""
    return page.locator(DATAFRAME).count(), page.locator(CHART).count()


def more_of(page: Any, selector: str, before: int, timeout_s: float = 15) -> bool:
    """Whether the page comes to show more than `before` of `selector` within the time."""
    try:
        page.wait_for_function(
            f"document.querySelectorAll({selector!r}).length > {before}", timeout=timeout_s * 1000
        )
    except PlaywrightTimeout:
        return False
    return True


def test_trend_answer_streams_a_table_and_a_chart(page: Any, ui_app: App, shots: Path) -> None:
    answer, seconds = ask(page, "Show me the trend of concert attendance over the past year")
    print(f"\nfirst turn in the browser (MCP server start included): {seconds:.2f} s")
    page.wait_for_selector(CHART, timeout=30_000)
    page.wait_for_selector(DATAFRAME, timeout=30_000)
    said = answer.inner_text()
    assert "tickets sold" in said.lower(), said
    assert page.get_by_role("button", name="Show SQL").count() > 0
    assert page.locator("text=semantic_query").count() > 0  # the tool call shown as a step
    save_screenshot(page, shots / "trend.png")


def save_screenshot(page: Any, path: Path, *, readme: bool = False) -> None:
    """Screenshot the last question and its answer; `readme=True` with ENCORE_UPDATE_SCREENSHOT=1
    also makes it the README's docs/screenshot.png."""
    page.set_viewport_size({"width": 1280, "height": 1500})  # question, table and chart in view
    try:
        question = page.locator('[data-step-type="user_message"]').last
        question.evaluate("e => e.scrollIntoView({block: 'start'})")
        page.wait_for_timeout(800)  # plotly redraws at the new size
        page.screenshot(path=str(path))
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})
    assert path.stat().st_size < SCREENSHOT_MAX_BYTES
    if readme and os.environ.get("ENCORE_UPDATE_SCREENSHOT") == "1":
        (ROOT / "docs").mkdir(exist_ok=True)
        shutil.copyfile(path, ROOT / "docs" / "screenshot.png")


def test_show_sql_action(page: Any) -> None:
    page.get_by_role("button", name="Show SQL").last.click()
    page.wait_for_selector("code:has-text('SELECT')", timeout=15_000)


def test_unsafe_requests_are_refused(page: Any, ui_app: App) -> None:
    for text in ("delete all concerts", "run this SQL: DROP TABLE concerts"):
        answer, _ = ask(page, text)
        said = answer.inner_text().lower()
        assert any(w in said for w in ("can't", "cannot", "not allowed", "refus", "only")), said
        assert "traceback" not in said
    from tests.conftest import query_warehouse

    assert query_warehouse(ui_app.settings, "SELECT count(*) FROM concerts")[0][0] > 0


def test_uploaded_csv_is_ingested_after_confirmation(
    page: Any, ui_app: App, tmp_path: Path, shots: Path
) -> None:
    csv = tmp_path / "new_artists.csv"
    csv.write_text("artist_id,name,genre\nui-test-1,The Loopback Band,rock\nui-test-2,,jazz\n")
    page.set_input_files("#upload-button-input", str(csv))
    page.get_by_text(csv.name).first.wait_for(timeout=30_000)  # attached before the message goes
    type_message(page, "please load this file")
    page.get_by_role("button", name="Ingest").click(timeout=60_000)
    page.wait_for_selector("text=Ingestion finished", timeout=60_000)
    page.screenshot(path=str(shots / "upload.png"), full_page=True)
    from tests.conftest import query_warehouse

    rows = query_warehouse(
        ui_app.settings, "SELECT count(*) FROM artists WHERE name = 'The Loopback Band'"
    )
    assert rows[0][0] == 1


def test_reload_and_resume_thread_shows_its_tables_and_charts(page: Any, shots: Path) -> None:
    page.reload()
    page.wait_for_selector("#thread-history", timeout=30_000)
    page.locator("#thread-history a").first.click()
    page.wait_for_selector("text=Show me the trend of concert attendance", timeout=30_000)
    page.wait_for_selector("text=Ingestion finished", timeout=30_000)
    # the elements of earlier answers come back from the element store, not only their text
    page.wait_for_selector(CHART, timeout=30_000)
    page.wait_for_selector(DATAFRAME, timeout=30_000)
    page.wait_for_selector("#chat-input", timeout=30_000)
    answer, _ = ask(page, "Which genres are most popular?")
    assert "genre" in answer.inner_text().lower()
    page.screenshot(path=str(shots / "resumed.png"))


def test_stored_elements_are_served_only_to_their_owner(
    page: Any, ui_app: App, browser: Any
) -> None:
    import sqlite3

    from agent.ui.auth import UserStore
    from agent.ui.config import history_db

    with sqlite3.connect(history_db(ui_app.settings)) as con:
        urls = [r[0] for r in con.execute("SELECT url FROM elements WHERE type = 'plotly'")]
    assert urls, "no chart was kept in history"
    url = ui_app.url + urls[0]
    assert page.request.get(url).json()["data"]  # the owner gets the figure
    UserStore(ui_app.settings).add("other", "other-password", role="analyst")
    context = browser.new_context()
    try:
        assert context.request.get(url).status == 401  # not signed in
        tab = context.new_page()
        tab.goto(ui_app.url)
        tab.fill("#email", "other")
        tab.fill("#password", "other-password")
        tab.keyboard.press("Enter")
        tab.wait_for_selector("#chat-input", timeout=30_000)
        assert tab.request.get(url).status == 404  # signed in, but not the owner
    finally:
        context.close()


def test_another_website_cannot_read_the_ui_with_the_users_cookies(page: Any, ui_app: App) -> None:
    """A page on another origin that the user visits must not be allowed (CORS) to read the
    UI's answers with the user's session: the UI names no foreign origin as allowed."""
    foreign = "http://attacker.example"
    reply = page.request.get(ui_app.url + "/project/settings", headers={"Origin": foreign})
    assert reply.headers.get("access-control-allow-origin") not in (foreign, "*")
    preflight = page.request.fetch(
        ui_app.url + "/project/settings",
        method="OPTIONS",
        headers={"Origin": foreign, "Access-Control-Request-Method": "GET"},
    )
    assert preflight.headers.get("access-control-allow-origin") not in (foreign, "*")


# What each demo turn must show besides its text: a table grid, a chart, words in the answer
# (lower case, whole words; one of each tuple). Conversation 5 runs offline, so it must say the
# source cannot be reached and still answer from our own data.
EXPECTED: list[list[dict[str, Any]]] = [
    [
        {"words": ("{artist}",)},  # the profile's venues come as a table in the text
        {"table": True, "words": ("venue",)},
        {"words": ("{genre}",)},
    ],
    [
        {"table": True, "words": ("new york", "ny")},
        {"table": True, "words": ("venue",)},
        {"table": True, "words": ("{venue}",)},
    ],
    [
        {"table": True, "words": ("rock", "alternative")},
        {"table": True},
        {"words": ("sell out", "sold out", "sell-out")},
    ],
    [
        {"table": True, "chart": True, "words": ("tickets sold",)},
        {"table": True, "words": ("genre",)},
        {"table": True, "words": ("california", "ca")},
    ],
    [
        {"words": ("spotify",)},
        {"words": ("ticketmaster",)},
        {"words": ("{artist}",)},
    ],
]


@pytest.mark.parametrize("index", range(5))
def test_demo_conversation(page: Any, ui_app: App, index: int, shots: Path) -> None:
    from agent.ui.demo import demo_names

    names = demo_names(ui_app.settings)
    fill = {"artist": names.artist.lower(), "genre": names.genre.lower(), "venue": names.venue}
    turns = conversations(ui_app.settings)[index]
    page.goto(ui_app.url)  # a new thread per conversation
    page.wait_for_selector("#chat-input", timeout=30_000)
    problems = []
    for text, expected in zip(turns, EXPECTED[index], strict=True):
        grids, charts = shown(page)
        answer, seconds = ask(page, text)
        said = answer.inner_text().strip()
        words = [w.format(**fill).lower() for w in expected.get("words", ())]
        understood = not words or any(
            re.search(rf"\b{re.escape(w)}\b", said.lower()) for w in words
        )
        if not understood:
            problems.append(f"{text!r}: the answer names none of {words}: {said[:200]!r}")
        # elements arrive with the final message and plotly draws lazily: wait for those expected
        # (not after an answer already wrong, where they will not come)
        has_table = not expected.get("table") or (understood and more_of(page, DATAFRAME, grids))
        has_chart = not expected.get("chart") or (understood and more_of(page, CHART, charts))
        new_grids, new_charts = shown(page)
        print(f"\n{seconds:5.2f} s  {text!r} -> {said[:120]!r} (+{new_grids - grids} tables, "
              f"+{new_charts - charts} charts)")  # fmt: skip
        assert said
        assert "went wrong" not in said and "Traceback" not in said, said
        if not has_table:
            problems.append(f"{text!r}: no table shown")
        if not has_chart:
            problems.append(f"{text!r}: no chart shown")
    # the README's screenshot: a real answer with a table and a chart (conversation 4's last turn)
    save_screenshot(page, shots / f"demo-{index + 1}.png", readme=index == 3 and not problems)
    assert not problems, "\n".join(problems)


def test_page_made_no_request_off_the_machine(ui_app: App) -> None:
    hosts = {urlsplit(url).hostname for url in ui_app.requests if not url.startswith("data:")}
    assert ui_app.requests, "the page made no request at all?"
    assert hosts <= {"127.0.0.1"}, hosts
