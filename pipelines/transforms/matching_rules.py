"""Match rules for artists, venues and concerts: features, blocking keys and match weights.

Weights are log2 Bayes factors (Fellegi-Sunter): how much likelier a comparison outcome is for
two records of one entity than for two different entities in the same block. They were set from
how listings differ in practice (a source re-spells names, jitters coordinates by a few hundred
metres, rounds capacities, lists late shows in UTC) and checked against the generator's ground
truth with `encore bench dedup`.
"""

from __future__ import annotations

from typing import Final

from pipelines.transforms.matching import MatchRules
from pipelines.transforms.normalize import city_name, match_key

# a leading or trailing article, also as typed in a hurry ("Teh", "Thhe")
_ARTICLE: Final = (
    "'^(the|teh|te|th|he|hte|thhe|tthe|thee)\\s+|\\s+(the|teh|te|th|he|hte|thhe|tthe|thee)$'"
)
# spellings that differ between listings, to one form: whole words only
_VENUE_WORDS: Final = (
    ("amphitheatre", "amphitheater"),
    ("theatre", "theater"),
    ("centre", "center"),
    ("saint", "st"),
)
_CITY_WORDS: Final = (("saint", "st"), ("fort", "ft"), ("mount", "mt"))


def _words(expr: str, pairs: tuple[tuple[str, str], ...]) -> str:
    for old, new in pairs:
        expr = f"regexp_replace({expr}, '\\b{old}\\b', '{new}', 'g')"
    return expr


def _name_features(key: str) -> tuple[str, ...]:
    """The name key, its sorted tokens and their joined form, for token-order-free comparison."""
    return (
        f"{key} AS _n",
        f"list_sort(list_distinct(string_split({key}, ' '))) AS _toks",
        f"array_to_string(list_sort(list_distinct(string_split({key}, ' '))), ' ') AS _s",
        f"replace({key}, ' ', '') AS _compact",
    )


# tokens: one typo spoils one token, the others still meet; a one-word name also by its ends
# (a typo never spoils both); a short name also under each one-letter deletion, so "mreric"
# and "mreic" share a key (SymSpell-style)
_NAME_KEYS: Final = (
    "list_filter(_toks, lambda t: length(t) >= 2)",
    "list_concat(['~' || _compact], "
    "CASE WHEN len(_toks) = 1 THEN ['^' || left(_compact, 4), '$' || right(_compact, 4)] "
    "ELSE [] END, "
    "CASE WHEN length(_compact) <= 10 THEN list_transform(range(1, length(_compact) + 1), "
    "lambda i: '~' || left(_compact, i - 1) || substr(_compact, i + 1)) ELSE [] END)",
)


def _covers(small: str, large: str) -> str:
    """Every token of `small` has a counterpart in `large` (Jaro-Winkler >= 0.9: a typo at most)."""
    return (
        f"list_bool_and(list_transform({small}, lambda t: list_bool_or("
        f"list_transform({large}, lambda u: jaro_winkler_similarity(t, u) >= 0.9))))"
    )


def _name_level(exact: float, close: float, fuzzy: float, other: float, *, subset: str) -> str:
    """Exact key or token set; one edit apart (Damerau, either order); then token-wise fuzzy.

    `subset` is the SQL condition for the token-wise level, over `_covers` of the token lists.
    """
    # Damerau-Levenshtein costs ~20x Jaro-Winkler: a nested CASE (AND does not short-circuit)
    # runs it only where one edit is possible
    return f"""CASE
        WHEN a._n = b._n OR a._s = b._s THEN {exact}
        WHEN CASE WHEN abs(length(a._n) - length(b._n)) <= 1
                       AND jaro_winkler_similarity(a._n, b._n) >= 0.8
                  THEN least(damerau_levenshtein(a._n, b._n), damerau_levenshtein(a._s, b._s)) <= 1
                  ELSE false END
        THEN CASE WHEN length(a._n) >= 6 THEN {close} ELSE {fuzzy} END
        WHEN {subset} THEN {fuzzy}
        -- two edits in a long name: a typo inside a word that normalising would have mapped
        WHEN CASE WHEN length(a._n) >= 10 AND abs(length(a._n) - length(b._n)) <= 2
                       AND jaro_winkler_similarity(a._n, b._n) >= 0.85
                  THEN damerau_levenshtein(a._n, b._n) <= 2 ELSE false END THEN {fuzzy} - 2
        ELSE {other} END"""


# the same tokens, each perhaps with a typo; CASE (unlike AND) skips the lambdas where the
# cheap test already fails, which keeps scoring ~4x faster
_FUZZY_SAME: Final = (
    "CASE WHEN len(a._toks) = len(b._toks) AND len(a._toks) >= 2 "
    "AND list_has_any(a._toks, b._toks) "
    f"THEN {_covers('a._toks', 'b._toks')} AND {_covers('b._toks', 'a._toks')} ELSE false END"
)
# one name is the other plus words (a sponsor dropped), each perhaps with a typo
_FUZZY_SUBSET: Final = (
    "CASE WHEN least(len(a._toks), len(b._toks)) < 2 OR NOT list_has_any(a._toks, b._toks) "
    f"THEN false WHEN len(a._toks) <= len(b._toks) THEN {_covers('a._toks', 'b._toks')} "
    f"ELSE {_covers('b._toks', 'a._toks')} END"
)


def _agree(column: str, same: float, differ: float) -> str:
    """Agreement on a value both records have; a missing value is no evidence either way."""
    return (
        f"CASE WHEN a.{column} = b.{column} THEN {same} "
        f"WHEN a.{column} <> b.{column} THEN {differ} ELSE 0 END"
    )


def _within(column: str, fraction: float, near: float, far: float) -> str:
    """Two amounts within `fraction` of the larger one."""
    return (
        f"CASE WHEN abs(a.{column} - b.{column}) <= {fraction} * greatest(a.{column}, b.{column}) "
        f"THEN {near} WHEN a.{column} IS NOT NULL AND b.{column} IS NOT NULL THEN {far} ELSE 0 END"
    )


_ARTIST_KEY: Final = (
    f"regexp_replace(regexp_replace({match_key('name')}, '\\s+official$', ''), {_ARTICLE}, '', 'g')"
)

ARTIST_RULES: Final = MatchRules(
    entity_type="artist",
    features=(
        *_name_features(_ARTIST_KEY),
        "lower(genre) AS genre",
        "country",
        "formed_year",
        "spotify_id",
        "followers",
        "popularity",
    ),
    block_keys=f"list_concat({_NAME_KEYS[0]}, {_NAME_KEYS[1]}, ['sp:' || spotify_id])",
    weight=" + ".join(
        (
            _name_level(10, 6, 3, -10, subset=_FUZZY_SAME),
            _agree("spotify_id", 12, -25),  # two catalogue ids: two acts
            # "art rock" and "rock" are one artist's genre at two grains: weak agreement
            "CASE WHEN a.genre = b.genre THEN 3 "
            "WHEN contains(a.genre, b.genre) OR contains(b.genre, a.genre) THEN 1 "
            "WHEN a.genre <> b.genre THEN -6 ELSE 0 END",
            _agree("country", 1, -6),
            _agree("formed_year", 3, -6),
            _within("followers", 0.03, 3, -3),
            "CASE WHEN abs(a.popularity - b.popularity) <= 2 THEN 1 "
            "WHEN abs(a.popularity - b.popularity) > 10 THEN -2 ELSE 0 END",
        )
    ),
    prior_bits=-5,
)

_VENUE_KEY: Final = (
    f"regexp_replace({_words(match_key('name'), _VENUE_WORDS)}, {_ARTICLE}, '', 'g')"
)
_CITY_KEY: Final = _words(match_key(city_name("city")), _CITY_WORDS)
# grid cells of ~1 km on four offset grids: two points < 500 m apart share a cell on one of them
_GEO_KEYS: Final = ", ".join(
    f"'g' || floor(latitude * 100 + {dy}) || ':' || floor(longitude * 100 + {dx})"
    for dy, dx in ((0, 0), (0.5, 0), (0, 0.5), (0.5, 0.5))
)
_KM: Final = (
    "sqrt(pow((a.latitude - b.latitude) * 111.2, 2) + pow((a.longitude - b.longitude) * 111.2 "
    "* cos(radians((a.latitude + b.latitude) / 2)), 2))"
)

# A source that geocodes by city (the Wikipedia tour dates) puts every venue of a city on the
# city's point, up to ~25 km from the venue: its coordinates only place a venue in a region.
# A point is taken as such when venues of several names share it, or when the incoming batch
# has about as many points as cities (some city spellings share one) and far more venues.

# to ~1 m: a point averaged over a source's rows is not bit-for-bit the same
_POINT: Final = (
    "CASE WHEN latitude IS NOT NULL AND longitude IS NOT NULL "
    "THEN [round(latitude, 5), round(longitude, 5)] END"
)
_COARSE: Final = (
    f"count(DISTINCT {_VENUE_KEY}) OVER (PARTITION BY {_POINT}) > 1 "
    "AND latitude IS NOT NULL "
    f"OR NOT _existing AND count(DISTINCT {_POINT}) OVER (PARTITION BY _existing) "
    f"<= 1.1 * count(DISTINCT {_CITY_KEY}) OVER (PARTITION BY _existing) "
    f"AND count(DISTINCT {_VENUE_KEY}) OVER (PARTITION BY _existing) "
    f">= 1.5 * count(DISTINCT {_POINT}) OVER (PARTITION BY _existing)"
)
# beyond this a city-level point still says "another city"
_COARSE_KM: Final = 30

VENUE_RULES: Final = MatchRules(
    entity_type="venue",
    features=(
        *_name_features(_VENUE_KEY),
        f"{_CITY_KEY} AS _city",
        "country",
        "state",
        "latitude",
        "longitude",
        f"coalesce({_COARSE}, false) AS _coarse",
        "capacity",
        "venue_type",
        "ticketmaster_id",
    ),
    block_keys=(
        f"list_concat(list_transform({_NAME_KEYS[0]}, lambda t: country || ':' || t), "
        f"list_transform({_NAME_KEYS[1]}, lambda t: country || t), "
        f"[{_GEO_KEYS}, 'tm:' || ticketmaster_id])"
    ),
    weight=" + ".join(
        (
            # a sponsor dropped from the name leaves the other's tokens a subset of the one's
            f"""CASE WHEN a._n <> b._n AND least(len(a._toks), len(b._toks)) >= 2
                 AND (list_has_all(a._toks, b._toks) OR list_has_all(b._toks, a._toks)) THEN 6
                 ELSE {_name_level(8, 6, 4, -10, subset=_FUZZY_SUBSET)} END""",
            _agree("ticketmaster_id", 14, -14),
            # sources place one venue a few hundred metres apart; two venues lie farther apart,
            # unless one point is only its city's: then nearer than another city is no evidence
            f"CASE WHEN {_KM} < 0.6 THEN 7 WHEN {_KM} < 1 THEN 0 "
            f"WHEN a._coarse OR b._coarse THEN CASE WHEN {_KM} >= {_COARSE_KM} THEN -9 ELSE 0 END "
            f"WHEN {_KM} >= 1 THEN -9 ELSE 0 END",
            # a source that geocodes by city also names the metro for a suburb's venue
            # (Las Vegas for Paradise, Paris for Saint-Denis): within reach, no evidence either
            "CASE WHEN a._city = b._city THEN 2 WHEN starts_with(a._city, b._city) "
            "OR starts_with(b._city, a._city) THEN 1 "
            f"WHEN (a._coarse OR b._coarse) AND {_KM} < {_COARSE_KM} THEN 0 ELSE -3 END",
            _agree("country", 0, -10),
            _agree("state", 0.5, -2),
            _within("capacity", 0.05, 3, -3),
            _agree("venue_type", 1, -5),
        )
    ),
    prior_bits=-4,
)

_TOUR: Final = "nullif(regexp_replace(lower(trim(tour_name)), '\\s+tour$', ''), '')"

CONCERT_RULES: Final = MatchRules(
    entity_type="concert",
    features=(
        "artist_id",
        "venue_id",
        "event_date",
        f"{_TOUR} AS _tour",
        "status",
        "price_min",
        "on_sale_date",
    ),
    # artist and venue are canonical ids by now: a concert can only match inside that pair
    block_keys="[artist_id || '|' || venue_id]",
    weight=" + ".join(
        (
            # a day apart only across sources (late shows listed in UTC); one source keeps its dates
            "CASE WHEN a.event_date = b.event_date THEN 8 "
            "WHEN abs(a.event_date - b.event_date) = 1 AND (a._existing OR b._existing) THEN 3 "
            "ELSE -30 END",
            _agree("_tour", 2, -3),
            _agree("status", 1, -2),
            _within("price_min", 0.045, 3, -3),
            _agree("on_sale_date", 1, -1),
        )
    ),
    prior_bits=-3,
    max_block=None,
)

RULES: Final[dict[str, MatchRules]] = {
    "artists": ARTIST_RULES,
    "venues": VENUE_RULES,
    "concerts": CONCERT_RULES,
}
