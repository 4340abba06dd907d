"""Which role an open chat answers with after an admin changed its user's role."""

from __future__ import annotations

import pytest

from agent.ui.chat import role_after_change, role_change_text


@pytest.mark.parametrize(
    ("running_as", "before", "now", "expected"),
    [
        ("analyst", "analyst", "partner", "partner"),  # ran with their role: takes the new one
        ("partner", "partner", "admin", "admin"),
        ("partner", "admin", "analyst", "partner"),  # a lower pick in settings stays allowed
        ("partner", "analyst", "admin", "partner"),  # and is kept after a promotion
        ("analyst", "admin", "partner", "partner"),  # a pick above the new role is cut to it
    ],
)
def test_the_new_role_or_the_pick_within_it(
    running_as: str, before: str, now: str, expected: str
) -> None:
    assert role_after_change(running_as, before, now) == expected


def test_the_notice_names_the_new_role_and_a_pick_below_it() -> None:
    assert "**partner**" in role_change_text("partner", "partner")
    assert "you picked **partner**" in role_change_text("analyst", "partner")
