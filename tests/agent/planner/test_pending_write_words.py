"""A write held back for confirmation is answered in words, in every channel (ask --json, REST,
AgentCore), not as the tool's JSON (DESIGN 6; the UI adds Confirm/Cancel to the same turn)."""

from __future__ import annotations

from agent.planner.composer import compose
from agent.planner.state import Call


def test_a_held_back_write_reads_as_a_sentence_without_the_note_to_the_model() -> None:
    held = {"status": "needs_confirmation",
            "message": "run the landing folder and the stream; call again with confirm=true to "
                       "start"}  # fmt: skip
    answer = compose("pipeline_run", [Call("start_pipeline_run", {}, held)], [], None)
    assert answer == (
        "This changes data: Run the landing folder and the stream. Nothing has changed yet: it "
        "waits for your confirmation."
    )
