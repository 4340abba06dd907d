"""The generator as a source: a deterministic stream of `(table, rows)` chunks.

Order is parents before children (artists, venues, fans, concerts, ticket_sales in several
chunks, concert_results), so a sink can load or write each chunk as it arrives.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa

from pipelines.generate.artists import make_artists
from pipelines.generate.concerts import make_concerts
from pipelines.generate.fans import make_fans
from pipelines.generate.reference import genre_centroids, load_reference
from pipelines.generate.sales import box_scores, make_sales, plan_ticketing
from pipelines.generate.scales import Scale
from pipelines.generate.venues import make_venues

Chunk = tuple[str, pa.Table]

CONTRACT_COLUMNS: Final[dict[str, list[str]]] = {
    "artists": [
        "artist_id",
        "name",
        "genre",
        "country",
        "popularity",
        "followers",
        "formed_year",
        "spotify_id",
    ],
    "venues": [
        "venue_id",
        "name",
        "city",
        "state",
        "country",
        "latitude",
        "longitude",
        "capacity",
        "venue_type",
        "ticketmaster_id",
    ],
    "fans": ["fan_id", "city", "state", "country", "age_band", "signup_date", "favorite_genre"],
    "concerts": [
        "concert_id",
        "artist_id",
        "venue_id",
        "event_date",
        "tour_name",
        "status",
        "on_sale_date",
        "price_min",
        "price_max",
        "currency",
    ],
}


def generate(scale: Scale, seed: int, as_of: date) -> Iterator[Chunk]:
    """Yield the demo dataset for `scale`; the same seed and `as_of` give the same rows."""
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)]
    taste_rng, artist_rng, venue_rng, fan_rng, concert_rng, sales_rng = streams
    ref = load_reference()
    centroids = genre_centroids(taste_rng)

    artists = make_artists(artist_rng, scale.artists, as_of, ref, centroids)
    yield "artists", _contract("artists", artists)
    venues = make_venues(venue_rng, scale.venues, ref)
    yield "venues", _contract("venues", venues)
    venue_cities = venues[["city", "country"]].drop_duplicates()
    fans = make_fans(fan_rng, scale.fans, as_of, ref, venue_cities, centroids)
    yield "fans", _contract("fans", fans)
    concerts = make_concerts(concert_rng, scale.concerts, as_of, artists, venues, ref)
    yield "concerts", _contract("concerts", concerts)

    ticketed = plan_ticketing(sales_rng, concerts, as_of, scale.ticket_sales)
    for chunk in make_sales(
        sales_rng,
        concerts,
        ticketed,
        artists,
        venues,
        fans,
        as_of,
        chunk_rows=scale.sales_chunk_rows,
        id_width=scale.id_widths["sale"],
    ):
        yield "ticket_sales", chunk
    yield "concert_results", box_scores(concerts, ticketed)


def _contract(table: str, frame: pd.DataFrame) -> pa.Table:
    """The warehouse columns only: hidden traits stay inside the generator."""
    return pa.Table.from_pandas(frame[CONTRACT_COLUMNS[table]], preserve_index=False)
