"""A list of upcoming concerts cut at its limit says so, and the answer tells the user."""

from __future__ import annotations

from agent.planner.composer import compose
from agent.planner.state import Call
from tools.context import ToolContext
from tools.insights.profile import upcoming_concerts


def test_a_cut_list_is_marked_and_the_answer_says_there_are_more(ctx: ToolContext) -> None:
    everything = upcoming_concerts(ctx, date_from="2000-01-01", limit=500)
    total = len(everything.rows)
    assert total > 3
    cut = upcoming_concerts(ctx, date_from="2000-01-01", limit=3)
    assert len(cut.rows) == 3 and cut.truncated and not everything.truncated
    whole = upcoming_concerts(ctx, date_from="2000-01-01", limit=total)
    assert len(whole.rows) == total and not whole.truncated
    call = Call("upcoming_concerts", {"limit": 3}, cut.model_dump(mode="json"))
    assert "There are more" in compose("upcoming_concerts", [call], [], None)
