"""Venues "near" a city in the offline planner: the city goes to venues_for_artist as `near`, with
the distance the message gives; "in" a city still means that city only."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from agent.planner.entities import Entities
from agent.planner.routes import build_plan
from agent.planner.state import DialogueState

TODAY = date(2026, 11, 27)


def _first_call(intent: str, text: str, ents: Entities) -> tuple[str, dict[str, Any]]:
    call = build_plan(intent, text, ents, DialogueState(), {}, TODAY).next_call([])
    assert call is not None
    return call.name, call.input


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("Which venues suit The Band near Chicago?", {"near": "Chicago"}),
        ("Venues for The Band within 50 miles of Chicago", {"near": "Chicago", "within_km": 80.5}),
        (
            "Venues for The Band around Chicago, within 200 km",
            {"near": "Chicago", "within_km": 200},
        ),
        ("Which venues suit The Band in Chicago?", {"city": "Chicago"}),
    ],
)
def test_venues_for_an_artist_near_a_city(text: str, where: dict[str, Any]) -> None:
    ents = Entities(artists=["The Band"], cities=["Chicago"])
    assert _first_call("venue_for_artist", text, ents) == (
        "venues_for_artist",
        {"artist": "The Band", **where},
    )


def test_a_show_near_a_city_no_vocabulary_knows_passes_it_as_typed() -> None:
    """No venue in Ann Arbor, so the planner's vocabulary lacks it: the tool places it."""
    ents = Entities(artists=["The Band"])
    text = "Plan a show for The Band near Ann Arbor on 2027-05-01"
    assert _first_call("refine", text, ents) == (
        "venues_for_artist",
        {"artist": "The Band", "near": "Ann Arbor", "limit": 5},
    )


def test_a_show_near_a_city_in_a_named_state_says_which_city() -> None:
    ents = Entities(artists=["The Band"], cities=["Portland"], states=["ME"])
    text = "Plan a show for The Band near Portland ME on 2027-05-01"
    assert _first_call("refine", text, ents)[1] == {
        "artist": "The Band",
        "near": "Portland",
        "state": "ME",
        "limit": 5,
    }
