"""Starter conversations for the chat page, with names taken from the warehouse itself."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from core.settings import Settings
from tools.warehouse import reading

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Starter:
    """A demo conversation's first message."""

    label: str
    message: str


def _names(settings: Settings) -> tuple[str, str]:
    """The best-selling artist and the busiest venue in New York (or anywhere)."""
    artist, venue = "Taylor Swift", "Madison Square Garden"
    try:
        with reading(settings) as con:
            row = con.execute(
                "SELECT a.name FROM concert_performance p JOIN artists a USING (artist_id) "
                "GROUP BY a.name ORDER BY sum(p.tickets_sold) DESC NULLS LAST LIMIT 1"
            ).fetchone()
            if row:
                artist = str(row[0])
            row = con.execute(
                "SELECT v.name FROM concerts c JOIN venues v USING (venue_id) "
                "ORDER BY (v.city = 'New York') DESC, c.event_date DESC LIMIT 1"
            ).fetchone()
            if row:
                venue = str(row[0])
    except Exception:  # starters are a nicety: an empty or busy warehouse still gets a page
        log.warning("could not read demo names from the warehouse", exc_info=True)
    return artist, venue


def starters(settings: Settings) -> list[Starter]:
    """The demo script's opening questions (issue 6), with real artist and venue names."""
    artist, _ = _names(settings)
    return [
        Starter("Artist profile", f"Tell me about {artist}"),
        Starter("Best venues", "What are the best venues in New York for rock concerts?"),
        Starter(
            "Recommendations", "I like rock and alternative music. What concerts should I attend?"
        ),
        Starter("Attendance trend", "Show me the trend of concert attendance over the past year"),
        Starter("Live sources", f"Get me the latest information about {artist} from Spotify"),
    ]


def demo_venue(settings: Settings) -> str:
    """A venue with concerts, for the follow-up 'Show me upcoming concerts at …'."""
    return _names(settings)[1]
