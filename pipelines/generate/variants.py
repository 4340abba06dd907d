"""Name variants as real sources spell them: case, "The", "&", accents, typos, city aliases."""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any, Final

Row = dict[str, Any]


def variant(
    rnd: random.Random, name: str, r: Row, *, second: bool, tm_ids: dict[str, dict[str, str]]
) -> Row:
    """The same real-world record as another entry would spell it."""
    out = dict(r)
    if name == "artists":
        if not second or rnd.random() < 0.75:
            out["name"] = _artist_name(rnd, str(r["name"]))
        # a re-entered record seldom carries the external id; the second source often does
        out["spotify_id"] = r["spotify_id"] if rnd.random() < (0.5 if second else 0.2) else None
        if second:
            out["followers"] = int(r["followers"] * rnd.uniform(0.98, 1.02))
            out["popularity"] = min(100, max(0, int(r["popularity"]) + rnd.randint(-2, 2)))
    elif name == "venues":
        if not second or rnd.random() < 0.75:
            out["name"] = _venue_name(rnd, str(r["name"]))
        if rnd.random() < 0.35:
            out["city"] = _city_name(rnd, str(r["city"]))
        if second or rnd.random() < 0.5:
            for col, limit in (("latitude", 90.0), ("longitude", 180.0)):
                jittered = round(float(r[col]) + rnd.uniform(-0.0019, 0.0019), 5)
                out[col] = min(limit, max(-limit, jittered))
        if rnd.random() < 0.5:
            out["capacity"] = min(250_000, max(1, round(r["capacity"] * rnd.uniform(0.96, 1.04))))
        if second:
            out["ticketmaster_id"] = tm_ids["venues"][str(r["venue_id"])]
    elif name == "concerts":
        if second:
            out["artist_id"] = tm_ids["artists"][str(r["artist_id"])]
            out["venue_id"] = tm_ids["venues"][str(r["venue_id"])]
            if rnd.random() < 0.05:  # listed in UTC: late shows land on the next (or previous) day
                out["event_date"] = r["event_date"] + timedelta(
                    days=1 if rnd.random() < 0.8 else -1
                )
                if out["on_sale_date"] is not None and out["on_sale_date"] > out["event_date"]:
                    out["on_sale_date"] = out["event_date"]
            if r["tour_name"] and rnd.random() < 0.2:
                out["tour_name"] = _tour_name(rnd, str(r["tour_name"]))
        if (second or rnd.random() < 0.5) and r["price_min"] is not None:
            out["price_min"] = _money(r["price_min"], rnd.uniform(0.96, 1.04))
            if r["price_max"] is not None:
                out["price_max"] = max(
                    out["price_min"], _money(r["price_max"], rnd.uniform(0.96, 1.04))
                )
    return out


def _money(value: Any, factor: float) -> Any:
    if isinstance(value, Decimal):
        return (value * Decimal(str(round(factor, 4)))).quantize(Decimal("0.01"))
    return round(float(value) * factor, 2)


# --- name variants: realistic, yet close enough for fuzzy matching to resolve -------------------

_ADD_ACCENT: Final = {"e": "é", "a": "á", "o": "ö", "u": "ü", "i": "í", "n": "ñ"}
_FEAT = re.compile(r" (feat\.|ft\.|featuring|Feat\.) ")
_SPONSOR_WORD = re.compile(
    r" (Bank|Mobile|Energy|Insurance|Financial|Motors|Credit Union|Health|Telecom|Mutual)\b"
)
_VENUE_SWAPS: Final = (
    ("Theatre", "Theater"), ("Center", "Centre"), ("St. ", "Saint "), (" & ", " and "),
)  # fmt: skip
_CITY_ALIASES: Final = {
    "New York": ("NYC", "New York City"),
    "Washington": ("Washington DC",),
    "Montreal": ("Montréal",),
    "Quebec City": ("Québec City",),
    "Zurich": ("Zürich",),
    "Krakow": ("Kraków",),
    "São Paulo": ("Sao Paulo",),
    "Newcastle upon Tyne": ("Newcastle",),
}
_CITY_PREFIXES: Final = (("St. ", "Saint "), ("Fort ", "Ft. "), ("Mount ", "Mt. "))


def _artist_name(rnd: random.Random, name: str) -> str:
    """One or two of the edits an artist name suffers between listings."""
    ops: dict[str, int] = {"case": 2, "space": 1, "official": 1, "accent": 1}
    if name.startswith("The ") or name.endswith(", The"):
        ops["the"] = 4
    if " & " in name or " and " in name:
        ops["and"] = 3
    if _FEAT.search(name):
        ops["feat"] = 3
    if len(name) >= 8:
        ops["typo"] = 2
    return _edit(rnd, name, ops)


def _venue_name(rnd: random.Random, name: str) -> str:
    """One or two of the edits a venue name suffers between listings."""
    ops: dict[str, int] = {"space": 1, "case": 1}
    if any(a in name or b in name for a, b in _VENUE_SWAPS):
        ops["swap"] = 5
    if name.startswith("The "):
        ops["drop_the"] = 3
    if _SPONSOR_WORD.search(name) and len(name.split()) > 2:
        ops["sponsor"] = 3
    if len(name) >= 8:
        ops["typo"] = 1
    return _edit(rnd, name, ops)


def _city_name(rnd: random.Random, city: str) -> str:
    for canonical, aliases in _CITY_ALIASES.items():
        if city == canonical:
            return rnd.choice(aliases)
        if city in aliases:
            return canonical
    for a, b in _CITY_PREFIXES:
        if city.startswith(a):
            return b + city[len(a) :]
        if city.startswith(b):
            return a + city[len(b) :]
    return city


def _tour_name(rnd: random.Random, tour: str) -> str:
    if tour.endswith(" Tour"):
        return tour.removesuffix(" Tour")
    return tour.upper() if rnd.random() < 0.5 else f"{tour} Tour"


def _edit(rnd: random.Random, name: str, ops: dict[str, int]) -> str:
    count = 2 if rnd.random() < 0.3 and len(ops) > 1 else 1
    chosen: set[str] = set()
    while len(chosen) < count:
        chosen.add(rnd.choices(list(ops), weights=list(ops.values()))[0])
    out = name
    # a fixed order keeps edits composable: case last, so "The " is still found
    for op in (
        "the",
        "drop_the",
        "and",
        "feat",
        "swap",
        "sponsor",
        "accent",
        "typo",
        "space",
        "official",
        "case",
    ):
        if op in chosen:
            out = _EDITS[op](rnd, out)
    if out.strip() == name:
        out = name.lower() if name != name.lower() else name.upper()
    return out


def _edit_the(rnd: random.Random, name: str) -> str:
    if name.endswith(", The"):
        return "The " + name.removesuffix(", The")
    rest = name.removeprefix("The ")
    return rest if rnd.random() < 0.4 or not rest else f"{rest}, The"


def _edit_swap(rnd: random.Random, name: str) -> str:
    pairs = [(a, b) if a in name else (b, a) for a, b in _VENUE_SWAPS if a in name or b in name]
    old, new = rnd.choice(pairs)
    return name.replace(old, new)


def _edit_accent(rnd: random.Random, name: str) -> str:
    stripped = "".join(
        c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)
    )
    if stripped != name:
        return stripped
    spots = [i for i, c in enumerate(name) if c in _ADD_ACCENT]
    if not spots:
        return name
    i = rnd.choice(spots)
    return name[:i] + _ADD_ACCENT[name[i]] + name[i + 1 :]


def _edit_typo(rnd: random.Random, name: str) -> str:
    spots = [i for i in range(1, len(name) - 1) if name[i].isalpha() and name[i + 1].isalpha()]
    if not spots:
        return name
    i = rnd.choice(spots)
    kind = rnd.randrange(3)
    if kind == 0:  # transposed letters
        return name[:i] + name[i + 1] + name[i] + name[i + 2 :]
    if kind == 1:  # dropped letter
        return name[:i] + name[i + 1 :]
    return name[:i] + name[i] + name[i:]  # doubled letter


def _edit_space(rnd: random.Random, name: str) -> str:
    spots = [i for i, c in enumerate(name) if c == " "]
    if not spots:
        return name + " "
    i = rnd.choice(spots)
    return name[:i] + "  " + name[i + 1 :]


_EDITS: Final[dict[str, Callable[[random.Random, str], str]]] = {
    "the": _edit_the,
    "drop_the": lambda rnd, n: n.removeprefix("The "),
    "and": lambda rnd, n: n.replace(" & ", " and ") if " & " in n else n.replace(" and ", " & "),
    "feat": lambda rnd, n: _FEAT.sub(" " + rnd.choice(["feat.", "ft.", "featuring"]) + " ", n),
    "swap": _edit_swap,
    "sponsor": lambda rnd, n: _SPONSOR_WORD.sub("", n, count=1),
    "accent": _edit_accent,
    "typo": _edit_typo,
    "space": _edit_space,
    "official": lambda rnd, n: f"{n} (Official)",
    "case": lambda rnd, n: n.lower() if rnd.random() < 0.6 else n.upper(),
}


# --- malformed rows -------------------------------------------------------------------------------
