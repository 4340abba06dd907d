"""Entities in a message: names matched against the warehouse vocabularies, dates, numbers."""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Final

from rapidfuzz import fuzz, process

from agent.planner.dates import DateRange, parse_date_range

logger = logging.getLogger(__name__)
Vocabulary = Callable[[str], list[str]]
KINDS: Final = ("artists", "venues", "cities", "states", "genres", "venue_types")

US_STATES: Final = {
    "alabama": "AL",
    "alaska": "AK",
    "arizona": "AZ",
    "arkansas": "AR",
    "california": "CA",
    "colorado": "CO",
    "connecticut": "CT",
    "delaware": "DE",
    "florida": "FL",
    "georgia": "GA",
    "hawaii": "HI",
    "idaho": "ID",
    "illinois": "IL",
    "indiana": "IN",
    "iowa": "IA",
    "kansas": "KS",
    "kentucky": "KY",
    "louisiana": "LA",
    "maine": "ME",
    "maryland": "MD",
    "massachusetts": "MA",
    "michigan": "MI",
    "minnesota": "MN",
    "mississippi": "MS",
    "missouri": "MO",
    "montana": "MT",
    "nebraska": "NE",
    "nevada": "NV",
    "new hampshire": "NH",
    "new jersey": "NJ",
    "new mexico": "NM",
    "new york state": "NY",
    "north carolina": "NC",
    "north dakota": "ND",
    "ohio": "OH",
    "oklahoma": "OK",
    "oregon": "OR",
    "pennsylvania": "PA",
    "rhode island": "RI",
    "south carolina": "SC",
    "south dakota": "SD",
    "tennessee": "TN",
    "texas": "TX",
    "utah": "UT",
    "vermont": "VT",
    "virginia": "VA",
    "washington state": "WA",
    "west virginia": "WV",
    "wisconsin": "WI",
    "wyoming": "WY",
    "district of columbia": "DC",
}
DEFAULT_GENRES: Final = (
    "pop",
    "rock",
    "hip-hop",
    "indie",
    "electronic",
    "latin",
    "r&b",
    "country",
    "alternative",
    "metal",
    "folk",
    "soul",
    "k-pop",
    "blues",
    "reggae",
    "jazz",
    "punk",
    "classical",
)
DEFAULT_VENUE_TYPES: Final = ("arena", "stadium", "theater", "club", "amphitheater", "outdoor")
_GENRE_ALIASES: Final = {
    "hip hop": "hip-hop",
    "rap": "hip-hop",
    "rnb": "r&b",
    "kpop": "k-pop",
    "edm": "electronic",
    "theatre": "theater",
    "alt rock": "alternative",
}
# words that are names in a vocabulary but mostly plain English in a question
_COMMON: Final = frozenset(
    [
        "the",
        "a",
        "an",
        "and",
        "or",
        "of",
        "in",
        "at",
        "on",
        "for",
        "to",
        "me",
        "my",
        "i",
        "you",
        "we",
        "they",
        "their",
        "them",
        "it",
        "is",
        "are",
        "was",
        "best",
        "top",
        "show",
        "tell",
        "about",
        "what",
        "which",
        "how",
        "many",
        "much",
        "most",
        "more",
        "less",
        "concert",
        "concerts",
        "venue",
        "venues",
        "artist",
        "artists",
        "music",
        "band",
        "bands",
        "live",
        "night",
        "day",
        "week",
        "month",
        "year",
        "summer",
        "next",
        "last",
        "this",
        "that",
        "these",
        "those",
        "new",
        "sales",
        "tickets",
        "ticket",
        "popular",
        "city",
        "state",
        "by",
        "per",
        "vs",
        "with",
        "from",
        "all",
        "any",
    ]
)
_CAPACITY_BANDS: Final = (
    (r"\b(small|intimate|tiny)\b", "small"),
    (r"\b(mid[- ]?sized?|medium[- ]?sized?|medium|mid[- ]?size)\b", "medium"),
    (r"\b(large|big|huge|stadium[- ]sized)\b", "large"),
)
_COMPARISONS: Final = (
    (r"(more than|over|above|greater than|at least|>=?)", ">"),
    (r"(less than|under|below|fewer than|at most|<=?)", "<"),
)


@dataclass
class Entities:
    """What a message names; lists keep the order of appearance."""

    artists: list[str] = field(default_factory=list)
    venues: list[str] = field(default_factory=list)
    cities: list[str] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    genres: list[str] = field(default_factory=list)
    venue_types: list[str] = field(default_factory=list)
    dates: DateRange | None = None
    limit: int | None = None
    budget: float | None = None
    comparison: tuple[str, float] | None = None
    capacity_band: str | None = None
    numbers: list[float] = field(default_factory=list)
    fan_id: str | None = None
    unmatched: list[str] = field(default_factory=list)


class Gazetteer:
    """Names of each kind, loaded once from `vocabulary(kind)` and matched in messages."""

    def __init__(self, vocabulary: Vocabulary | None) -> None:
        self._vocabulary = vocabulary
        self._names: dict[str, dict[str, str]] = {}
        self._phrases: dict[str, tuple[str, str]] | None = None
        self._longest = 1
        self._extracted: dict[tuple[str, date], Entities] = {}

    def names(self, kind: str) -> dict[str, str]:
        """Lower-cased name → name as published, for one kind (cached)."""
        if kind not in self._names:
            listed: list[str] = []
            if self._vocabulary is not None:
                try:
                    listed = list(self._vocabulary(kind))
                except Exception:
                    # not cached: the built-ins serve until the vocabulary source answers
                    logger.warning("vocabulary %s unavailable; using built-in names only", kind)
                    return self._builtin(kind)
            if kind == "genres":
                listed += list(DEFAULT_GENRES)
            if kind == "venue_types":
                listed += list(DEFAULT_VENUE_TYPES)
            self._names[kind] = {n.lower().strip(): n for n in listed if n and n.strip()}
        return self._names[kind]

    def _builtin(self, kind: str) -> dict[str, str]:
        defaults = {"genres": DEFAULT_GENRES, "venue_types": DEFAULT_VENUE_TYPES}.get(kind, ())
        return {n: n for n in defaults}

    def extract(self, text: str, today: date) -> Entities:
        """All entities in `text` (remembered: each step of a turn asks about the same message)."""
        key = (text, today)
        if key not in self._extracted:
            if len(self._extracted) >= 512:
                self._extracted.clear()
            found = self._extract(text, today)
            if self._phrases is None:
                return found  # the vocabulary did not answer: try again next time
            self._extracted[key] = found
        return copy.deepcopy(self._extracted[key])

    def _extract(self, text: str, today: date) -> Entities:
        found = Entities()
        lowered = text.lower()
        taken = [False] * len(lowered)
        chosen: list[tuple[int, int, str, str]] = []
        # the longest phrase wins ("Terry Long & the Smoke" over "rock"); then in reading order
        for span in sorted(self._exact_spans(lowered), key=lambda s: (s[0] - s[1], s[0])):
            start, end = span[0], span[1]
            if not any(taken[start:end]):
                taken[start:end] = [True] * (end - start)
                chosen.append(span)
        for span in _inside_longer_names(text, chosen):
            chosen.remove(span)  # "Madison Square Garden" is not the city of Madison
            taken[span[0] : span[1]] = [False] * (span[1] - span[0])
        for _start, _end, kind, name in sorted(chosen):
            _add(found, kind, name)
        self._fuzzy(lowered, taken, found)
        found.unmatched = _unmatched_names(text, taken)
        self._codes(text, found)
        _numbers(lowered, found)
        found.dates = parse_date_range(text, today)
        for pattern, band in _CAPACITY_BANDS:
            if re.search(pattern, lowered):
                found.capacity_band = band
                break
        return found

    def _index(self) -> dict[str, tuple[str, str]]:
        """Every known phrase, tokenised like messages are, → (kind, name); built once."""
        if self._phrases is None:
            sources: list[tuple[str, dict[str, str]]] = [(k, self.names(k)) for k in KINDS]
            sources.append(("states", dict(US_STATES)))
            sources.append(("genres", {a: g for a, g in _GENRE_ALIASES.items() if g != "theater"}))
            sources.append(("venue_types", {"theatre": "theater"}))
            index: dict[str, tuple[str, str]] = {}
            for kind, names in sources:
                for key, name in names.items():
                    # short codes ("TX", "BY") match only as capitals (see _codes)
                    short_code = len(key) <= 3 and kind == "states"
                    if key in _COMMON or short_code or not key.strip("0123456789 "):
                        continue
                    index.setdefault(" ".join(_TOKEN.findall(key)), (kind, name))
            for kind in ("artists", "venues"):
                for alias, name in self._aliases(kind).items():
                    index.setdefault(alias, (kind, name))
            self._longest = max((p.count(" ") + 1 for p in index), default=1)
            if all(kind in self._names for kind in KINDS):  # else retry the vocabulary next time
                self._phrases = index
            return index
        return self._phrases

    def _aliases(self, kind: str) -> dict[str, str]:
        """Names as people shorten them ("Stone Drifters" for "Stone Drifters Band", "Blue Suns"
        for "The Blue Suns"): two words or more, and only when one name shortens that way."""
        found: dict[str, list[str]] = {}
        for key, name in self.names(kind).items():
            short = _SHORTENED.sub("", key).strip()
            tokens = _TOKEN.findall(short)
            if short != key and len(tokens) >= 2:
                found.setdefault(" ".join(tokens), []).append(name)
        return {alias: names[0] for alias, names in found.items() if len(set(names)) == 1}

    def _exact_spans(self, lowered: str) -> list[tuple[int, int, str, str]]:
        index = self._index()
        tokens = [(m.start(), m.end(), m.group(0)) for m in _TOKEN.finditer(lowered)]
        spans: list[tuple[int, int, str, str]] = []
        for i in range(len(tokens)):
            for n in range(1, min(self._longest, len(tokens) - i) + 1):
                phrase = " ".join(t[2] for t in tokens[i : i + n])
                # "The Blue Suns" for "The Blue Sun"; "Alice Hall & the Orbit's concerts"
                hit = (
                    index.get(phrase)
                    or (index.get(phrase[:-2]) if phrase.endswith("'s") else None)
                    or (index.get(phrase[:-1]) if phrase.endswith("s") else None)
                )
                if hit is not None:
                    spans.append((tokens[i][0], tokens[i + n - 1][1], *hit))
        return spans

    def _fuzzy(self, lowered: str, taken: list[bool], found: Entities) -> None:
        """Near-misses of artist and venue names ("Elizabth Vargas") among untaken words."""
        words = [(m.start(), m.end(), m.group(0)) for m in re.finditer(r"[\w&'.-]+", lowered)]
        for kind, cutoff in (("artists", 88.0), ("venues", 88.0)):
            choices = self.names(kind)
            if not choices:
                continue
            choices = {**self._aliases(kind), **choices}
            keys = list(choices)
            for size in (4, 3, 2):
                for i in range(len(words) - size + 1):
                    chunk = words[i : i + size]
                    start, end = chunk[0][0], chunk[-1][1]
                    if any(taken[start:end]) or all(w[2] in _COMMON for w in chunk):
                        continue
                    phrase = lowered[start:end]
                    hit = process.extractOne(phrase, keys, scorer=fuzz.ratio, score_cutoff=cutoff)
                    if hit is not None:
                        taken[start:end] = [True] * (end - start)
                        _add(found, kind, choices[hit[0]])

    def _codes(self, text: str, found: Entities) -> None:
        codes = set(US_STATES.values()) | {c for c in self.names("states").values() if len(c) <= 3}
        for m in re.finditer(r"\b[A-Z]{2,3}\b", text):
            if m.group(0) in codes and m.group(0) not in found.states:
                found.states.append(m.group(0))


_SHORTENED = re.compile(r"^the\s+|\s+(band|orchestra|quartet|trio|ensemble)$")
_TOKEN = re.compile(r"[\w&'-]+(?:\.[\w&'-]+)*")
_NAME = re.compile(r"\b[A-Z][\w'.-]*(?:\s+(?:&|and|the|of|[A-Z][\w'.-]*))*\s+[A-Z][\w'.-]*")
_NOT_NAMES = frozenset(
    {"Spotify", "Ticketmaster", "Setlist.fm", "I", "Q1", "Q2", "Q3", "Q4", "SQL"}
)


_PLACE_WORDS: Final = frozenset({"city", "state", "area", "metro", "county", "downtown", "bay"})


def _inside_longer_names(
    text: str, chosen: list[tuple[int, int, str, str]]
) -> list[tuple[int, int, str, str]]:
    """Place names that are only part of a longer capitalised name no vocabulary knows
    ("Madison" in "Madison Square Garden"): that name is something else, e.g. a venue."""
    inside = []
    for m in _NAME.finditer(text):
        if m.start() == 0:
            continue
        within = [c for c in chosen if m.start() <= c[0] and c[1] <= m.end()]
        if len(within) != 1 or within[0][2] not in ("cities", "states"):
            continue
        start, end = within[0][0], within[0][1]
        rest = (text[m.start() : start] + " " + text[end : m.end()]).split()
        # other capitalised words ("Square Garden"), not codes ("Texas and CA") nor "City"
        named = [w for w in rest if not w.isupper() and w.lower() not in _PLACE_WORDS | _COMMON]
        if named:
            inside.append(within[0])
    return inside


def _unmatched_names(text: str, taken: list[bool]) -> list[str]:
    """Capitalised phrases no vocabulary knows: passed on as typed so tools can suggest names."""
    names = []
    for m in _NAME.finditer(text):
        words = m.group(0).split()
        if m.start() == 0 or any(taken[m.start() : m.end()]) or set(words) & _NOT_NAMES:
            continue
        names.append(m.group(0))
    return names


def _add(found: Entities, kind: str, name: str) -> None:
    target: list[str] = getattr(found, kind)
    if kind == "states" and len(name) > 3:
        name = US_STATES.get(name.lower(), name)
    if name not in target:
        target.append(name)


_FAN_ID = re.compile(r"\bfan(?:\s+id)?\s*(?:#|:)?\s*([a-z]?\d{3,})\b|\b(f\d{4,})\b", re.I)


def _numbers(lowered: str, found: Entities) -> None:
    if m := _FAN_ID.search(lowered):
        found.fan_id = (m.group(1) or m.group(2)).upper()
    if m := re.search(r"\b(?:top|best|first|biggest|largest)\s+(\d{1,3})\b", lowered):
        found.limit = int(m.group(1))
    if m := re.search(r"\$\s?(\d[\d,]*(?:\.\d+)?)\s*(k)?", lowered):
        found.budget = float(m.group(1).replace(",", "")) * (1000 if m.group(2) else 1)
    elif m := re.search(r"\bbudget\D{0,12}(\d[\d,]*)", lowered):
        found.budget = float(m.group(1).replace(",", ""))
    for pattern, op in _COMPARISONS:
        if m := re.search(pattern + r"\s+\$?(\d[\d,]*(?:\.\d+)?)\s*(k|m)?", lowered):
            scale = {"k": 1e3, "m": 1e6}.get(m.group(3) or "", 1.0)
            found.comparison = (op, float(m.group(2).replace(",", "")) * scale)
            break
    for m in re.finditer(r"(?<![\w-])(\d[\d,]*(?:\.\d+)?)(?![\w-])", lowered):
        if found.fan_id and m.group(1) in found.fan_id:
            continue
        value = float(m.group(1).replace(",", ""))
        if not 1900 <= value <= 2100:
            found.numbers.append(value)
