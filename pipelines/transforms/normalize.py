"""Normalisation (requirement 1.3): names, places and codes as SQL expressions over text columns.

Two kinds of output: a clean display value ("Rolling Stones, The" -> "The Rolling Stones") and a
match key used to compare records across sources ("the rolling stones" -> "rolling stones").
"""

from __future__ import annotations

from typing import Final

from pipelines.transforms.validate import FOOTNOTE

COUNTRY_CODES: Final[dict[str, str]] = {
    "united states": "US", "united states of america": "US", "usa": "US", "u.s.": "US",
    "u.s.a.": "US", "america": "US", "canada": "CA", "united kingdom": "GB", "uk": "GB",
    "great britain": "GB", "england": "GB", "scotland": "GB", "wales": "GB",
    "northern ireland": "GB", "ireland": "IE", "germany": "DE", "france": "FR", "spain": "ES",
    "portugal": "PT", "italy": "IT", "netherlands": "NL", "the netherlands": "NL",
    "holland": "NL", "belgium": "BE", "switzerland": "CH", "austria": "AT", "sweden": "SE",
    "norway": "NO", "denmark": "DK", "finland": "FI", "iceland": "IS", "poland": "PL",
    "czech republic": "CZ", "czechia": "CZ", "hungary": "HU", "greece": "GR", "turkey": "TR",
    "russia": "RU", "ukraine": "UA", "australia": "AU", "new zealand": "NZ", "japan": "JP",
    "south korea": "KR", "korea": "KR", "china": "CN", "hong kong": "HK", "taiwan": "TW",
    "singapore": "SG", "philippines": "PH", "thailand": "TH", "indonesia": "ID",
    "malaysia": "MY", "india": "IN", "israel": "IL", "united arab emirates": "AE",
    "south africa": "ZA", "mexico": "MX", "brazil": "BR", "argentina": "AR", "chile": "CL",
    "colombia": "CO", "peru": "PE", "puerto rico": "PR", "jamaica": "JM",
    "croatia": "HR", "serbia": "RS", "romania": "RO", "bulgaria": "BG", "slovakia": "SK",
    "slovenia": "SI", "lithuania": "LT", "latvia": "LV", "estonia": "EE", "luxembourg": "LU",
    "costa rica": "CR", "uruguay": "UY", "paraguay": "PY", "dominican republic": "DO",
    "ecuador": "EC", "venezuela": "VE", "bolivia": "BO", "guatemala": "GT", "panama": "PA",
    "honduras": "HN", "el salvador": "SV", "nicaragua": "NI", "cuba": "CU",
    "trinidad and tobago": "TT", "bahamas": "BS", "barbados": "BB", "morocco": "MA",
    "egypt": "EG", "nigeria": "NG", "kenya": "KE", "ghana": "GH", "tunisia": "TN",
    "saudi arabia": "SA", "qatar": "QA", "kuwait": "KW", "bahrain": "BH", "oman": "OM",
    "lebanon": "LB", "jordan": "JO", "vietnam": "VN", "pakistan": "PK", "bangladesh": "BD",
    "sri lanka": "LK", "cyprus": "CY", "malta": "MT", "belarus": "BY", "armenia": "AM",
    "kazakhstan": "KZ", "azerbaijan": "AZ", "moldova": "MD", "bosnia and herzegovina": "BA",
    "north macedonia": "MK", "macedonia": "MK", "albania": "AL", "montenegro": "ME",
    "monaco": "MC", "andorra": "AD", "liechtenstein": "LI", "republic of ireland": "IE",
    "south korea ": "KR", "republic of korea": "KR", "united states ": "US", "the bahamas": "BS",
    "mongolia": "MN", "macau": "MO", "cambodia": "KH", "new caledonia": "NC", "fiji": "FJ",
    "guam": "GU", "curaçao": "CW", "aruba": "AW", "martinique": "MQ", "guadeloupe": "GP",
    "réunion": "RE", "french guiana": "GF", "uzbekistan": "UZ", "georgia (country)": "GE",
}  # fmt: skip

US_STATES: Final[dict[str, str]] = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA",
    "colorado": "CO", "connecticut": "CT", "delaware": "DE", "district of columbia": "DC",
    "florida": "FL", "georgia": "GA", "hawaii": "HI", "idaho": "ID", "illinois": "IL",
    "indiana": "IN", "iowa": "IA", "kansas": "KS", "kentucky": "KY", "louisiana": "LA",
    "maine": "ME", "maryland": "MD", "massachusetts": "MA", "michigan": "MI", "minnesota": "MN",
    "mississippi": "MS", "missouri": "MO", "montana": "MT", "nebraska": "NE", "nevada": "NV",
    "new hampshire": "NH", "new jersey": "NJ", "new mexico": "NM", "new york": "NY",
    "north carolina": "NC", "north dakota": "ND", "ohio": "OH", "oklahoma": "OK",
    "oregon": "OR", "pennsylvania": "PA", "rhode island": "RI", "south carolina": "SC",
    "south dakota": "SD", "tennessee": "TN", "texas": "TX", "utah": "UT", "vermont": "VT",
    "virginia": "VA", "washington": "WA", "west virginia": "WV", "wisconsin": "WI",
    "wyoming": "WY", "ontario": "ON", "quebec": "QC", "british columbia": "BC",
    "alberta": "AB", "manitoba": "MB", "nova scotia": "NS", "saskatchewan": "SK",
    "new south wales": "NSW", "victoria": "VIC", "queensland": "QLD",
    "western australia": "WA", "south australia": "SA",
}  # fmt: skip

CITY_VARIANTS: Final[dict[str, str]] = {
    "nyc": "New York", "new york city": "New York", "la": "Los Angeles", "l.a.": "Los Angeles",
    "sf": "San Francisco", "saint louis": "St. Louis", "st louis": "St. Louis",
    "saint paul": "St. Paul", "st paul": "St. Paul", "washington dc": "Washington",
    "washington, d.c.": "Washington", "washington d.c.": "Washington", "philly": "Philadelphia",
    "vegas": "Las Vegas", "ft. worth": "Fort Worth", "ft worth": "Fort Worth",
}  # fmt: skip


def _lookup(expr: str, table: dict[str, str], *, fallback: str) -> str:
    cases = " ".join(
        f"WHEN '{k.replace(chr(39), chr(39) * 2)}' THEN '{v}'" for k, v in table.items()
    )
    return f"(CASE lower(trim({expr})) {cases} ELSE {fallback} END)"


def clean_text(expr: str) -> str:
    """Unicode NFC, footnote marks dropped ("Amway Center[1]"), whitespace collapsed, trimmed."""
    unmarked = f"regexp_replace(nfc_normalize({expr}), '{FOOTNOTE}', '', 'g')"
    return f"nullif(trim(regexp_replace({unmarked}, '\\s+', ' ', 'g')), '')"


def display_name(expr: str) -> str:
    """A clean display name: "Rolling Stones, The" -> "The Rolling Stones", "ft." -> "feat."."""
    text = clean_text(expr)
    moved = f"regexp_replace({text}, '^(.*), (The|A|An)$', '\\2 \\1')"
    return f"regexp_replace({moved}, '\\s+(ft\\.?|feat\\.?|featuring)\\s+', ' feat. ', 'gi')"


def match_key(expr: str) -> str:
    """A comparison key: lower case, no accents, no leading "the", "&" as "and", no punctuation."""
    name = f"lower(strip_accents({display_name(expr)}))"
    name = f"regexp_replace({name}, '^the\\s+', '')"
    name = f"replace({name}, '&', ' and ')"
    name = f"regexp_replace({name}, '\\s+feat\\.\\s+.*$', '')"  # a guest does not change the act
    name = f"regexp_replace({name}, '[^0-9a-z ]+', ' ', 'g')"
    return f"trim(regexp_replace({name}, '\\s+', ' ', 'g'))"


def country_code(expr: str) -> str:
    """Country names and codes -> ISO 3166-1 alpha-2 ("United States" -> "US", "gb" -> "GB")."""
    return _lookup(expr, COUNTRY_CODES, fallback=f"upper(trim({expr}))")


# words of a place name kept lower-case after its first word ("Rio de Janeiro", "Stoke-on-Trent")
PLACE_PARTICLES: Final = (
    "of", "de", "del", "della", "des", "du", "da", "das", "do", "dos", "di", "la", "le", "les",
    "y", "upon", "on", "sur", "am", "an", "der", "den", "op", "and",
)  # fmt: skip


def _capitalised(part: str) -> str:
    """One word: "austin" -> "Austin", "mcallen" -> "McAllen", "o'fallon" -> "O'Fallon"."""
    prefix = (
        f"(CASE WHEN lower({part}) LIKE 'mc_%' THEN 'Mc' "
        f"WHEN lower({part}) LIKE 'o''_%' THEN 'O''' END)"
    )
    plain = f"upper(left({part}, 1)) || lower(substr({part}, 2))"
    rest = f"upper(substr({part}, 3, 1)) || lower(substr({part}, 4))"
    particles = ", ".join(f"'{w}'" for w in PLACE_PARTICLES)
    return (
        f"(CASE WHEN lower({part}) IN ({particles}) THEN lower({part}) "
        f"WHEN {prefix} IS NOT NULL THEN {prefix} || {rest} ELSE {plain} END)"
    )


def _each_word(text: str, separator: str, word: str, body: str) -> str:
    words = f"string_split({text}, '{separator}')"
    return f"array_to_string(list_transform({words}, lambda {word}: {body}), '{separator}')"


def place_case(text: str) -> str:
    """A place name typed all lower- or all upper-case in title case ("new york" -> "New York",
    "STRATFORD-UPON-AVON" -> "Stratford-upon-Avon"); mixed case is deliberate and kept.

    `text` is bound once (a one-element list's lambda): the SQL names it six times.
    """
    hyphened = _each_word("_w", "-", "_p", _capitalised("_p"))
    words = f"substr({_each_word('_t', ' ', '_w', hyphened)}, 2)"
    one_word = f"substr({_capitalised('_t')}, 2)"  # most names: no lists built
    rest = f"(CASE WHEN contains(_t, ' ') OR contains(_t, '-') THEN {words} ELSE {one_word} END)"
    cased = (
        f"CASE WHEN _t = lower(_t) OR _t = upper(_t) THEN upper(left(_t, 1)) || {rest} "
        f"ELSE _t END"  # "de kalb" -> "De Kalb"
    )
    return f"list_transform([{text}], lambda _t: {cased})[1]"


def state_code(expr: str) -> str:
    """US/Canadian/Australian state names -> their codes ("Texas" -> "TX"), other codes in upper
    case ("ny" -> "NY"), other names in place case ("bavaria" -> "Bavaria")."""
    code = "length(_s) <= 3 AND regexp_full_match(_s, '[A-Za-z]{2,3}')"
    cased = f"CASE WHEN {code} THEN upper(_s) ELSE {place_case('_s')} END"
    return _lookup(
        expr, US_STATES, fallback=f"list_transform([{clean_text(expr)}], lambda _s: {cased})[1]"
    )


def city_name(expr: str) -> str:
    """Common city variants -> one spelling ("NYC" -> "New York"), case as typed (a match key)."""
    return _lookup(expr, CITY_VARIANTS, fallback=clean_text(expr))


def city_display(expr: str) -> str:
    """`city_name` in place case: "new york" and "NEW YORK" -> "New York", "McAllen" kept."""
    return _lookup(expr, CITY_VARIANTS, fallback=place_case(clean_text(expr)))


# which normaliser applies to which entity field, before validation
FIELD_NORMALISERS: Final = {
    "name": display_name,
    "artist": display_name,
    "venue": display_name,
    "tour_name": clean_text,
    "city": city_display,
    "state": state_code,
    "country": country_code,
}
