"""Preferences taken from what users say: "I live in Chicago", "I love jazz", "my budget is $80"."""

from __future__ import annotations

import re
from typing import Any

from agent.memory.base import PreferenceKind

_GENRE_WORDS = (
    "rock", "alternative", "indie", "pop", "jazz", "blues", "country", "hip hop", "hip-hop", "rap",
    "r&b", "electronic", "edm", "dance", "metal", "punk", "folk", "classical", "latin", "reggae",
    "soul", "funk", "gospel", "k-pop", "techno", "house",
)  # fmt: skip
_LIKE = re.compile(
    r"\bi\s+(?:really\s+)?(?:like|love|enjoy|am into|'m into|prefer|dig)\s+(?P<what>[^.!?;]+)", re.I
)
_LIVE = re.compile(
    r"\bi\s+(?:live|am based|'m based|am located|'m located)\s+in\s+"
    r"(?P<city>[A-Z][\w.' -]*?)(?:,\s*(?P<state>[A-Z]{2}))?(?=$|[.!?;,]|\s+and\b|\s+but\b)",
    re.I,
)
_BUDGET = re.compile(
    r"\b(?:my\s+)?budget\s+(?:is\s+|of\s+)?(?:about\s+|around\s+|under\s+)?\$?\s*(?P<n>\d+(?:\.\d+)?)"
    r"|\bno more than\s+\$\s*(?P<m>\d+(?:\.\d+)?)",
    re.I,
)
_FAVOURITE_ARTIST = re.compile(
    r"\bmy\s+favou?rite\s+(?:artist|band|singer)\s+is\s+(?P<artist>[^.!?;,]+)", re.I
)


def _genres(text: str) -> list[str]:
    found: list[str] = []
    lowered = text.lower()
    for word in _GENRE_WORDS:
        if re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", lowered):
            name = "hip-hop" if word in ("hip hop", "rap") else word
            if name not in found:
                found.append(name)
    return found


def extract_preferences(text: str) -> list[tuple[PreferenceKind, Any]]:
    """The preferences a user states in `text`, as (kind, value) pairs; [] when none."""
    found: list[tuple[PreferenceKind, Any]] = []
    for match in _LIKE.finditer(text):
        genres = _genres(match.group("what"))
        if genres:
            found.append(("genres", genres))
    if live := _LIVE.search(text):
        city = live.group("city").strip()
        found.append(("city", city.title() if city.islower() else city))
        if live.group("state"):
            found.append(("state", live.group("state").upper()))
    if budget := _BUDGET.search(text):
        found.append(("budget", float(budget.group("n") or budget.group("m"))))
    if favourite := _FAVOURITE_ARTIST.search(text):
        found.append(("artists", [favourite.group("artist").strip()]))
    return found
