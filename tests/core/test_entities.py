"""The one name resolver: exact in any case, then fuzzy, else an error that suggests close names."""

from __future__ import annotations

import pytest

from core.entities import match_name
from core.errors import ValidationError

ARTISTS = ["The Rolling Stones", "Taylor Swift", "Tay Tay", "Taylor Swift"]
IDS = ["a1", "a2", "a3", "a4"]


def test_ids_then_names_in_any_case_then_typos() -> None:
    assert match_name("artist", "a3", ARTISTS, ids=IDS) == 2
    assert match_name("artist", "  taylor SWIFT ", ARTISTS, ids=IDS) == 1
    assert match_name("artist", "A4", ARTISTS, ids=IDS) == 3
    assert match_name("artist", "rolling stones", ARTISTS, ids=IDS) == 0
    assert match_name("artist", "taylor swfit", ARTISTS) == 1


def test_an_unknown_name_suggests_close_ones_once_each() -> None:
    with pytest.raises(ValidationError) as caught:
        match_name("artist", "Taylor Smith", ARTISTS, among=" on tour")
    error = caught.value
    assert str(error).startswith("no artist named 'Taylor Smith' on tour; did you mean: ")
    assert error.detail["suggestions"] == list(dict.fromkeys(error.detail["suggestions"]))
    assert "Taylor Swift" in error.detail["suggestions"]
    assert error.detail["field"] == "artist" and error.detail["value"] == "Taylor Smith"


def test_a_stricter_cutoff_refuses_a_loose_match_and_blank_text_is_refused() -> None:
    assert match_name("artist", "Taylor Swiftt", ARTISTS) == 1
    with pytest.raises(ValidationError, match="did you mean: Taylor Swift"):
        match_name("artist", "Taylr Swft", ARTISTS, cutoff=99.0)
    with pytest.raises(ValidationError, match="name the venue"):
        match_name("venue", "  ", ARTISTS)
    with pytest.raises(ValidationError, match=r"^no genre named 'jazz'$"):
        match_name("genre", "jazz", [])
