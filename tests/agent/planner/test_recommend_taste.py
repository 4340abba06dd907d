"""Recommendations of other genres than the ones asked for are said to be no matches, even when
something else (the city, popularity) gave them a score; scores read as scores, not percents."""

from __future__ import annotations

from agent.planner.composer import compose
from agent.planner.state import Call


def _concert(artist: str, genre: str, score: float) -> dict[str, object]:
    return {"rank": 1, "concert_id": artist, "artist": artist, "genre": genre, "venue": "Hall",
            "city": "Chicago", "event_date": "2026-12-01", "score": score,
            "reason": f"popular {genre} act; in Chicago"}  # fmt: skip


def test_a_jazz_fan_is_told_nothing_jazz_is_on() -> None:
    asked = {"genres": ["jazz"], "city": "Chicago"}
    others = [_concert("Ada", "country", 0.2), _concert("Bo", "pop", 1.28)]
    answer = compose("recommend_concerts", [Call("recommend_concerts", asked, {"items": others})],
                     [], None)  # fmt: skip
    assert answer.startswith("Nothing matching jazz is on; these are other concerts")
    assert "(match 1.28)" in answer and "128%" not in answer
    jazz = [_concert("Cy", "jazz", 0.9), *others]
    answer = compose("recommend_concerts", [Call("recommend_concerts", asked, {"items": jazz})],
                     [], None)  # fmt: skip
    assert "Nothing matching" not in answer
