"""Writes asked for in chat wait for an explicit Confirm (DESIGN 6), on the real agent in a browser.

"Run the pipeline now" makes the agent call start_pipeline_run without confirm=true, which changes
nothing: the page says what it would do with Confirm and Cancel buttons instead of the tool's raw
JSON; Cancel changes nothing, Confirm calls the tool again, confirmed, and shows what it did. Also:
a file sent with "please load this file" is loaded after its own confirmation and not also sent to
the agent. (A ranking grid's cells: tests/agent/ui/test_ranking_grid.py.)
Uses the shared `encore ui` of the session (its warehouse copy: the pipeline run loads nothing
there, its landing folder and stream being empty).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.agent.ui.conftest import App, signed_in
from tests.agent.ui.test_chat_page import ASSISTANT, ask, type_message
from tests.conftest import query_warehouse

pytestmark = pytest.mark.browser

# set once any answer on the page shows the tool's raw confirmation JSON, even for a moment
WATCH_RAW = """(selector) => {
    window.sawRaw = false;
    const check = () => {
        for (const node of document.querySelectorAll(selector)) {
            if (/needs_confirmation|confirm=true/.test(node.innerText)) window.sawRaw = true;
        }
    };
    new MutationObserver(check).observe(document.body,
        {childList: true, subtree: true, characterData: true});
}"""


@pytest.fixture(scope="module")
def page(ui_app: App, browser: Any) -> Iterator[Any]:
    with signed_in(ui_app, browser) as tab:
        yield tab


def _ask_for_a_write(page: Any) -> None:
    page.evaluate(WATCH_RAW, ASSISTANT)
    type_message(page, "Run the pipeline now")
    page.get_by_role("button", name="Confirm").wait_for(timeout=60_000)
    expect(page.get_by_role("button", name="Cancel")).to_be_visible()
    asked = page.locator(ASSISTANT, has_text="Confirm to go ahead").last
    expect(asked).to_contain_text("Run the landing folder, the stream and the configured API")


def test_cancel_changes_nothing(page: Any, ui_app: App) -> None:
    runs = query_warehouse(ui_app.settings, "SELECT count(*) FROM pipeline_runs")[0][0]
    _ask_for_a_write(page)
    page.get_by_role("button", name="Cancel").click()
    page.get_by_text("Cancelled: nothing was changed.").wait_for(timeout=30_000)
    expect(page.get_by_role("button", name="Confirm")).to_have_count(0)
    assert not page.evaluate("window.sawRaw"), "the raw tool JSON showed"
    assert query_warehouse(ui_app.settings, "SELECT count(*) FROM pipeline_runs")[0][0] == runs


def test_confirm_runs_the_write_and_shows_what_it_did(page: Any) -> None:
    _ask_for_a_write(page)
    page.get_by_role("button", name="Confirm").click()
    # only a confirmed run reaches the steps: unconfirmed, the tool answers what it would do
    page.get_by_text("no files in", exact=False).first.wait_for(timeout=60_000)
    answer = page.locator(ASSISTANT).last.inner_text()
    assert "Done" in answer and "stream" in answer, answer
    # the question stays readable in the thread, with what was answered
    asked = page.locator(ASSISTANT, has_text="Confirmed.").last.inner_text()
    assert "Run the landing folder, the stream and the configured API sources" in asked, asked
    expect(page.get_by_role("button", name="Confirm")).to_have_count(0)
    assert not page.evaluate("window.sawRaw"), "the raw tool JSON showed"


def test_a_file_sent_to_be_loaded_is_not_also_asked_of_the_agent(
    page: Any, ui_app: App, tmp_path: Path
) -> None:
    csv = tmp_path / "more_artists.csv"
    csv.write_text("artist_id,name,genre\nui-write-1,The Confirmed Band,rock\n")
    before = page.locator(ASSISTANT).count()
    page.set_input_files("#upload-button-input", str(csv))
    page.get_by_text(csv.name).first.wait_for(timeout=30_000)
    type_message(page, "please load this file")
    page.get_by_role("button", name="Ingest").click(timeout=60_000)
    page.wait_for_selector("text=Ingestion finished", timeout=60_000)
    # the box takes a message once the upload's whole turn is over: all it said is on the page
    ask(page, "/preferences")
    said = " ".join(page.locator(ASSISTANT).all_inner_texts()[before:-1])
    assert "Ingestion finished" in said
    assert "outside what I understand" not in said, said
    rows = query_warehouse(
        ui_app.settings, "SELECT count(*) FROM artists WHERE name = 'The Confirmed Band'"
    )
    assert rows[0][0] == 1
