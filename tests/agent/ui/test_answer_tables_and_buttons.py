"""An answer's table shows once (as the grid), and its buttons work after the UI restarts.

Runs its own `encore ui` on its own copy of the trained warehouse (the restart must not disturb
the shared UI), on the real offline agent: ask for a trend, check the page, stop the UI, start it
again on the same data, resume the thread from the sidebar and use the answer's buttons.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from agent.ui.launch import ROOT
from core.settings import Settings
from tests.agent.ui.conftest import (
    CHROMIUM,
    ENCORE,
    App,
    _free_port,
    _printed,
    _wait_ready,
    signed_in,
)
from tests.agent.ui.test_chat_page import ASSISTANT, CHART, DATAFRAME, ask
from tests.conftest import copy_warehouse

pytestmark = pytest.mark.browser

QUESTION = "Show me the trend of concert attendance over the past year"
# any markdown table in an answer's text (the grid element is not one)
TEXT_TABLE = f"{ASSISTANT} table:not({DATAFRAME} table)"
# set on the page when a markdown table shows in an answer's text, even for a moment
WATCH_TABLES = """(selector) => {
    window.sawTextTable = false;
    new MutationObserver(() => {
        if (document.querySelector(selector)) window.sawTextTable = true;
    }).observe(document.body, {childList: true, subtree: true, characterData: true});
}"""


class EncoreUi:
    """`encore ui` on a data directory with the real agent, started in the background."""

    def __init__(self, settings: Settings) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ENCORE_", "CHAINLIT_"))}
        env.update(
            ENCORE_DATA_DIR=str(settings.data_dir),
            AWS_EC2_METADATA_DISABLED="true",
            NO_PROXY="127.0.0.1,localhost",
        )
        self.settings = settings
        self.started = time.monotonic()
        port = _free_port()
        self.log = settings.data_dir.parent / f"encore-ui-{port}.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(ENCORE), "ui", "--host", "127.0.0.1", "--port", str(port)],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        # the login is printed once the demo user exists: a second UI may start from then on
        self.url, self.user, self.password = _printed(self.log, self.process, 60)

    def ready(self) -> App:
        _wait_ready(self.url, self.process, self.log, 90)
        started_in_s = time.monotonic() - self.started
        return App(self.url, self.user, self.password, self.settings, self.log, started_in_s, "")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture(scope="module")
def data(trained_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium")
    return copy_warehouse(trained_warehouse, tmp_path_factory.mktemp("answers"), models=True)


def more(page: Any, selector: str, before: int, timeout_s: float = 30) -> None:
    """Wait until the page shows more than `before` of `selector`."""
    page.wait_for_function(
        f"document.querySelectorAll({selector!r}).length > {before}", timeout=timeout_s * 1000
    )


def test_table_shows_once_and_buttons_work_after_a_restart(data: Settings, browser: Any) -> None:
    # `other` never sees the turn, as after a restart; it also runs while the first UI stops, whose
    # Chainlit then deletes its session files folder (which must not be `other`'s)
    first = EncoreUi(data)
    other = EncoreUi(data)  # both start at once: the start-up is most of this test's time
    try:
        with signed_in(first.ready(), browser, accept_downloads=True) as page:
            page.evaluate(WATCH_TABLES, TEXT_TABLE)
            answer, seconds = ask(page, QUESTION)
            print(f"\nfirst answer (MCP server start included): {seconds:.1f} s")
            page.wait_for_selector(DATAFRAME, timeout=30_000)
            said = answer.inner_text()
            assert "tickets sold" in said.lower(), said  # the prose stays
            assert page.locator(TEXT_TABLE).count() == 0  # the table is the grid alone
            assert not page.evaluate("window.sawTextTable")  # not even while streaming
            assert page.get_by_role("button", name="Show SQL").count() == 1
            thread = page.url.rsplit("/", 1)[-1]
        first.stop()
        with signed_in(other.ready(), browser, accept_downloads=True) as page:
            resume_and_use_the_buttons(page, thread)
    finally:
        first.stop()
        other.stop()


def press(page: Any, name: str, timeout_s: float = 120) -> None:
    """Click the answer's button `name` once it is enabled. Chainlit disables every action button
    while a task runs, and on a resumed thread that is the whole `on_chat_resume`: it starts the
    user's agent and its MCP server, which took over 30 s on a loaded 2-core machine."""
    button = page.get_by_role("button", name=name)
    expect(button).to_be_enabled(timeout=timeout_s * 1000)
    button.click()


def resume_and_use_the_buttons(page: Any, thread: str) -> None:
    """Open the thread from the sidebar; Show SQL, Download CSV and Chart this answer."""
    page.locator(f'#thread-history a[href$="{thread}"]').click()
    page.wait_for_selector(f"text={QUESTION}", timeout=30_000)
    page.wait_for_selector(DATAFRAME, timeout=30_000)
    assert page.locator(TEXT_TABLE).count() == 0  # history keeps the text without the table

    sql = "code.language-sql"
    before = page.locator(sql).count()
    press(page, "Show SQL")
    more(page, sql, before)
    shown = page.locator(sql).last.inner_text()
    assert "SELECT" in shown and "tickets_sold" in shown, shown

    press(page, "Download CSV")
    link = page.get_by_text("encore-table-1.csv")
    with page.expect_download(timeout=30_000) as download:
        link.click(timeout=30_000)
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0] == "month,tickets_sold" and len(lines) > 2, lines[:3]

    charts = page.locator(CHART).count()
    press(page, "Chart this")
    more(page, CHART, charts)
    assert "no longer" not in page.locator(ASSISTANT).last.inner_text()
