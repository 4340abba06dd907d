"""An open chat follows the user store: removing a user ends their chat at its next message, and
a changed role applies from the next message on (a real browser on `encore ui`, the real CLI)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.agent.ui.conftest import ENCORE, App, signed_in
from tests.agent.ui.test_chat_page import ASSISTANT, ask, type_message

pytestmark = pytest.mark.browser

PASSWORD = "a long enough password"
REMOVED = "was removed"
QUESTION = "Which sales channel brings the most revenue?"


def encore(app: App, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """`encore ARGS` on the UI's data dir, as an admin at a shell would run it."""
    env = {**os.environ, "ENCORE_DATA_DIR": str(app.settings.data_dir), "COLUMNS": "200"}
    env.pop("ENCORE_WAREHOUSE_PATH", None)
    return subprocess.run(
        [str(ENCORE), *args], input=stdin, capture_output=True, text=True, env=env, timeout=120
    )


def add_user(app: App, name: str, role: str, *, replace: bool = False) -> App:
    """Add (or change) a user with the CLI; the app as that user signs in."""
    flags = ["--replace"] if replace else []
    added = encore(app, "users", "add", name, "--role", role, "--password-stdin", *flags,
                   stdin=PASSWORD + "\n")  # fmt: skip
    assert added.returncode == 0, added.stderr
    return dataclasses.replace(app, user=name, password=PASSWORD)


def tool_steps(page: Any) -> int:
    return int(page.locator("text=semantic_query").count())


def test_a_removed_users_chat_answers_no_more(ui_app: App, browser: Any) -> None:
    leaving = add_user(ui_app, "leaving", "analyst")
    with signed_in(leaving, browser) as page:
        answer, _ = ask(page, QUESTION)
        said = answer.inner_text()
        assert said.strip() and REMOVED not in said
        steps = tool_steps(page)
        assert steps > 0  # the first question was answered with a query

        removed = encore(ui_app, "users", "remove", "leaving")
        assert removed.returncode == 0, removed.stderr
        before = page.locator(ASSISTANT).count()
        type_message(page, QUESTION)
        expect(page.locator(ASSISTANT, has_text=REMOVED)).to_have_count(1, timeout=30_000)
        reply = page.locator(ASSISTANT).last.inner_text()
        assert "leaving" in reply and "sign in again" in reply.lower(), reply
        page.wait_for_timeout(2_000)  # an answer streaming after the reply would show by now
        assert page.locator(ASSISTANT).count() == before + 1
        assert tool_steps(page) == steps  # the agent was not asked

        again, _ = ask(page, "How many concerts were there last year?")
        assert REMOVED in again.inner_text()  # the chat stays ended
        assert tool_steps(page) == steps


def test_a_changed_role_applies_from_the_next_message(ui_app: App, browser: Any) -> None:
    moving = add_user(ui_app, "moving", "analyst")
    with signed_in(moving, browser) as page:
        as_analyst = ask(page, QUESTION)[0].inner_text()
        assert {"web", "mobile"} <= set(as_analyst.lower().split()), as_analyst  # every channel

        add_user(ui_app, "moving", "partner", replace=True)  # the partner role, mid-chat
        type_message(page, QUESTION)
        notice = page.locator(ASSISTANT, has_text="changed your role to partner")
        expect(notice).to_have_count(1, timeout=60_000)
        # the same question, answered under the partner row filter: their own channel only
        as_partner = page.locator(ASSISTANT, has_text="withheld for role partner")
        expect(as_partner).to_have_count(1, timeout=90_000)
        said = as_partner.inner_text()
        words = set(said.lower().split())
        assert "partner" in words and not {"web", "mobile"} & words, said
