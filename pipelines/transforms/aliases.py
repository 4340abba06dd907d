"""Header aliases: the column names real files use, mapped to the entity schemas' fields.

Also infers which entity a file holds from its columns, when the user does not say.
"""

from __future__ import annotations

import re
from typing import Final

from core.errors import SourceError
from core.schemas import ENTITY_SCHEMAS

# normalised header -> field, per entity ("*" applies to every entity)
_ALIASES: Final[dict[str, dict[str, str]]] = {
    "*": {
        "lat": "latitude",
        "lng": "longitude",
        "lon": "longitude",
        "long": "longitude",
        "province": "state",
        "region": "state",
        "state_code": "state",
        "country_code": "country",
        "nation": "country",
        "town": "city",
        "date": "event_date",
        "show_date": "event_date",
        "concert_date": "event_date",
        "performance_date": "event_date",
    },
    "artists": {
        "artist": "name",
        "artist_name": "name",
        "performer": "name",
        "band": "name",
        "primary_genre": "genre",
        "genres": "genre",
        "spotify_popularity": "popularity",
        "follower_count": "followers",
        "spotify_followers": "followers",
        "formed": "formed_year",
        "year_formed": "formed_year",
        "spotify_artist_id": "spotify_id",
        "id": "artist_id",
    },
    "venues": {
        "venue": "name",
        "venue_name": "name",
        "seating_capacity": "capacity",
        "max_capacity": "capacity",
        "type": "venue_type",
        "category": "venue_type",
        "tm_id": "ticketmaster_id",
        "id": "venue_id",
    },
    "concerts": {
        "event_id": "concert_id",
        "show_id": "concert_id",
        "id": "concert_id",
        "tour": "tour_name",
        "tour_title": "tour_name",
        "onsale_date": "on_sale_date",
        "on_sale": "on_sale_date",
        "min_price": "price_min",
        "max_price": "price_max",
        "event_status": "status",
    },
    "ticket_sales": {
        "order_id": "sale_id",
        "transaction_id": "sale_id",
        "id": "sale_id",
        "event_id": "concert_id",
        "customer_id": "fan_id",
        "purchased_at": "sold_at",
        "purchase_time": "sold_at",
        "order_date": "sold_at",
        "sales_channel": "channel",
        "tier": "price_tier",
        "ticket_type": "price_tier",
        "qty": "quantity",
        "tickets": "quantity",
        "price": "unit_price",
        "ticket_price": "unit_price",
        "total": "amount",
        "total_amount": "amount",
    },
    "fans": {
        "customer_id": "fan_id",
        "user_id": "fan_id",
        "id": "fan_id",
        "age_group": "age_band",
        "signed_up": "signup_date",
        "joined": "signup_date",
        "genre": "favorite_genre",
        "favourite_genre": "favorite_genre",
    },
    "concert_listings": {
        "artist_name": "artist",
        "headliner": "artist",
        "performer": "artist",
        "venue_name": "venue",
        "tour": "tour_name",
        "tour_title": "tour_name",
    },
    "concert_results": {
        "artist_name": "artist",
        "headliner": "artist",
        "venue_name": "venue",
        "performances": "shows",
        "attendance": "tickets_sold",
        "tickets": "tickets_sold",
        "sold": "tickets_sold",
        "gross_revenue": "gross",
        "revenue": "gross",
        "box_office_gross": "gross",
        "total_capacity": "capacity",
    },
}


def normalise_header(name: str) -> str:
    """`"Tickets Sold "` -> `"tickets_sold"`."""
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


def map_columns(columns: list[str], entity: str) -> dict[str, str]:
    """File column -> schema field for `entity`; columns that match no field are left out."""
    fields = set(ENTITY_SCHEMAS[entity].model_fields)
    aliases = {**_ALIASES["*"], **_ALIASES.get(entity, {})}
    mapping: dict[str, str] = {}
    for column in columns:
        key = normalise_header(column)
        target = key if key in fields else aliases.get(key)
        if target in fields and target not in mapping.values():
            mapping[column] = target
    return mapping


def infer_entity(columns: list[str]) -> str:
    """The entity whose required fields the columns cover best; a clear error when none fits."""
    scores = []
    for entity, schema in ENTITY_SCHEMAS.items():
        mapped = set(map_columns(columns, entity).values())
        required = {n for n, f in schema.model_fields.items() if f.is_required()}
        covered = len(required & mapped) / len(required)
        scores.append((covered, len(mapped), entity))
    covered, _, best = max(scores)
    if covered < 0.6:
        raise SourceError(
            f"cannot tell which entity the columns {columns} hold; pass --entity "
            f"({'|'.join(ENTITY_SCHEMAS)})",
            columns=columns,
        )
    return best
