"""The chat page end to end: log in, demo conversations, refusal, upload, resume, offline."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from agent.ui.demo import conversations
from tests.agent.ui.conftest import App

pytestmark = pytest.mark.browser

ASSISTANT = '[data-step-type="assistant_message"]'
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def page(ui_app: App, browser: Any) -> Iterator[Any]:
    """A logged-in page; every request it makes is recorded in `ui_app.requests`."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.on("request", lambda request: ui_app.requests.append(request.url))
    tab.goto(ui_app.url)
    tab.fill("#email", ui_app.user)
    tab.fill("#password", ui_app.password)
    tab.keyboard.press("Enter")
    tab.wait_for_selector("#chat-input", timeout=30_000)
    yield tab
    context.close()


def type_message(page: Any, text: str) -> None:
    """Type into the chat box as a user does and send."""
    page.click("#chat-input")
    page.keyboard.type(text)
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


def test_trend_answer_streams_a_table_and_a_chart(page: Any, ui_app: App, shots: Path) -> None:
    answer, seconds = ask(page, "Show me the trend of concert attendance over the past year")
    print(f"\nturn latency in the browser: {seconds:.2f} s")
    page.wait_for_selector(".js-plotly-plot", timeout=30_000)
    assert answer.inner_text().strip()
    assert page.locator('[role="table"], table').count() > 0
    assert page.get_by_role("button", name="Show SQL").count() > 0
    page.screenshot(path=str(shots / "trend.png"), full_page=True)
    if os.environ.get("ENCORE_UPDATE_SCREENSHOT") == "1":
        (ROOT / "docs").mkdir(exist_ok=True)
        shutil.copyfile(shots / "trend.png", ROOT / "docs" / "screenshot.png")


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
    page.wait_for_timeout(500)
    type_message(page, "please load this file")
    page.get_by_role("button", name="Ingest").click(timeout=30_000)
    page.wait_for_selector("text=Ingestion finished", timeout=60_000)
    page.screenshot(path=str(shots / "upload.png"), full_page=True)
    from tests.conftest import query_warehouse

    rows = query_warehouse(
        ui_app.settings, "SELECT count(*) FROM artists WHERE name = 'The Loopback Band'"
    )
    assert rows[0][0] == 1


def test_reload_and_resume_thread(page: Any, shots: Path) -> None:
    page.reload()
    page.wait_for_selector("#thread-history", timeout=30_000)
    page.locator("#thread-history a").first.click()
    page.wait_for_selector("text=Show me the trend of concert attendance", timeout=30_000)
    page.wait_for_selector("#chat-input", timeout=30_000)
    answer, _ = ask(page, "Which genres are most popular?")
    assert answer.inner_text().strip()
    page.screenshot(path=str(shots / "resumed.png"), full_page=True)


@pytest.mark.parametrize("index", range(5))
def test_demo_conversation(page: Any, ui_app: App, index: int, shots: Path) -> None:
    turns = conversations(ui_app.settings)[index]
    page.goto(ui_app.url)  # a new thread per conversation
    page.wait_for_selector("#chat-input", timeout=30_000)
    for text in turns:
        answer, seconds = ask(page, text)
        said = answer.inner_text().strip()
        print(f"\n{seconds:5.2f} s  {text!r} -> {said[:100]!r}")
        assert said
        assert "went wrong" not in said and "Traceback" not in said
    if index == 3:  # the attendance trend is drawn
        page.wait_for_selector(".js-plotly-plot", timeout=30_000)
    page.screenshot(path=str(shots / f"demo-{index + 1}.png"), full_page=True)


def test_page_made_no_request_off_the_machine(ui_app: App) -> None:
    hosts = {urlsplit(url).hostname for url in ui_app.requests if not url.startswith("data:")}
    assert ui_app.requests, "the page made no request at all?"
    assert hosts <= {"127.0.0.1"}, hosts
