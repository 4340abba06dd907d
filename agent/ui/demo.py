"""The demo script (issue 6): its conversations, with names taken from the warehouse itself."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from core.settings import Settings
from core.warehouse import reading

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoNames:
    """Real names for the demo questions: a best-selling artist, its genre, a busy venue."""

    artist: str = "Taylor Swift"
    genre: str = "pop"
    venue: str = "Madison Square Garden"


def demo_names(settings: Settings) -> DemoNames:
    """Names from the warehouse; fixed fallbacks when it is empty or busy."""
    names = DemoNames()
    try:
        with reading(settings) as con:
            top = con.execute(
                "SELECT a.name, a.genre FROM concert_performance p JOIN artists a USING (artist_id)"
                " GROUP BY a.name, a.genre ORDER BY sum(p.tickets_sold) DESC NULLS LAST LIMIT 1"
            ).fetchone()
            venue = con.execute(
                "SELECT v.name FROM concerts c JOIN venues v USING (venue_id) "
                "GROUP BY v.name, v.city ORDER BY (v.city = 'New York') DESC, count(*) DESC LIMIT 1"
            ).fetchone()
    except Exception:  # starters are a nicety: an empty or busy warehouse still gets a page
        log.warning("could not read demo names from the warehouse", exc_info=True)
        return names
    return DemoNames(
        artist=str(top[0]) if top else names.artist,
        genre=str(top[1] or names.genre) if top else names.genre,
        venue=str(venue[0]) if venue else names.venue,
    )


def conversations(settings: Settings) -> list[list[str]]:
    """The five demo conversations, three turns each, as a user would type them."""
    n = demo_names(settings)
    return [
        [
            f"Tell me about {n.artist}",
            "What venues have they performed at?",
            f"How popular are they compared to other {n.genre} artists?",
        ],
        [
            "What are the best venues in New York for rock concerts?",
            "Which venue would be best for a mid-sized indie band?",
            f"Show me upcoming concerts at {n.venue}",
        ],
        [
            "I like rock and alternative music. What concerts should I attend?",
            "What about something in the next month?",
            "Which of these concerts are likely to sell out?",
        ],
        [
            "Show me the trend of concert attendance over the past year",
            "Which genres are most popular?",
            "Compare ticket sales between venues in California",
        ],
        [
            f"Get me the latest information about {n.artist} from Spotify",
            f"Are there any upcoming {n.artist} concerts on Ticketmaster?",
            "How does their current popularity compare to our historical data?",
        ],
    ]


def starters(settings: Settings) -> list[str]:
    """The first message of each demo conversation."""
    return [turns[0] for turns in conversations(settings)]
