"""Entity extraction and date ranges against a fixed `today`."""

from __future__ import annotations

from datetime import date

import pytest

from agent.planner.dates import DateRange, parse_date_range
from agent.planner.entities import Gazetteer
from agent.planner.intents import evaluate_intents

TODAY = date(2026, 11, 1)  # a Sunday
VOCAB = {
    "artists": [
        "Elizabeth Vargas",
        "Terry Long & the Smoke",
        "The Choir and the Heroes",
        "James Henry",
    ],
    "venues": ["Satin Club", "The Compass Room", "The Liberty"],
    "cities": ["New York", "Austin", "Chicago"],
    "states": ["NY", "TX", "CA"],
    "genres": ["rock", "pop", "indie", "alternative"],
    "venue_types": ["club", "arena"],
}


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("sales last summer", date(2026, 6, 1), date(2026, 8, 31)),
        ("tickets in 2023", date(2023, 1, 1), date(2023, 12, 31)),
        ("shows next month", date(2026, 12, 1), date(2026, 12, 31)),
        ("something in the next month", date(2026, 11, 1), date(2026, 12, 1)),
        ("revenue in Q3", date(2026, 7, 1), date(2026, 9, 30)),
        ("Q3 2024 revenue", date(2024, 7, 1), date(2024, 9, 30)),
        ("this year", date(2026, 1, 1), date(2026, 12, 31)),
        ("over the past year", date(2025, 11, 1), date(2026, 11, 1)),
        ("last year", date(2025, 1, 1), date(2025, 12, 31)),
        ("the last 6 months", date(2026, 5, 5), date(2026, 11, 1)),
        ("next weekend", date(2026, 11, 7), date(2026, 11, 8)),
        ("on 2026-12-05", date(2026, 12, 5), date(2026, 12, 5)),
        ("on March 14", date(2026, 3, 14), date(2026, 3, 14)),
        ("from 2026-01-01 to 2026-02-01", date(2026, 1, 1), date(2026, 2, 1)),
    ],
)
def test_date_ranges(text: str, start: date, end: date) -> None:
    assert parse_date_range(text, TODAY) == DateRange(start, end)


def test_no_date_in_plain_question() -> None:
    assert parse_date_range("best venues for rock", TODAY) is None


def test_names_cities_states_genres() -> None:
    found = Gazetteer(lambda kind: VOCAB[kind]).extract(
        "Compare Terry Long & the Smoke at Satin Club in New York with rock shows in Texas and CA",
        TODAY,
    )
    assert found.artists == ["Terry Long & the Smoke"]  # not "rock" inside the name... nor "the"
    assert found.venues == ["Satin Club"] and found.venue_types == []
    assert found.cities == ["New York"]
    assert found.states == ["TX", "CA"] and found.genres == ["rock"]


def test_fuzzy_names_and_common_words() -> None:
    gazetteer = Gazetteer(lambda kind: VOCAB[kind])
    assert gazetteer.extract("tell me about elizabth vargas", TODAY).artists == ["Elizabeth Vargas"]
    assert gazetteer.extract("what about the liberty venue", TODAY).venues == ["The Liberty"]
    plain = gazetteer.extract("what are the best venues in the city this year", TODAY)
    assert plain.artists == [] and plain.venues == [] and plain.states == []


def test_numbers_money_comparisons_capacity() -> None:
    found = Gazetteer(None).extract(
        "top 10 mid-sized venues with more than 5,000 tickets under $80", TODAY
    )
    assert found.limit == 10 and found.capacity_band == "medium"
    assert found.comparison == (">", 5000.0) and found.budget == 80.0


def test_heldout_intent_accuracy() -> None:
    report = evaluate_intents()
    assert report["n"] >= 100
    assert report["accuracy"] >= 0.85, report["errors"]


def test_vocabulary_loaded_once_and_retried_after_failure() -> None:
    asked: list[str] = []
    down = True

    def vocabulary(kind: str) -> list[str]:
        asked.append(kind)
        if down:
            raise ConnectionError("MCP server not started")
        return VOCAB[kind]

    gazetteer = Gazetteer(vocabulary)
    assert gazetteer.extract("best rock venues in Austin", TODAY).cities == []
    down = False
    assert gazetteer.extract("best rock venues in Austin", TODAY).cities == ["Austin"]
    before = len(asked)
    gazetteer.extract("Satin Club in Chicago", TODAY)
    assert len(asked) == before
