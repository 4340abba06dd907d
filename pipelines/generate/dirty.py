"""Dirty mode: the clean stream as two real sources would deliver it, plus the ground truth.

`encore_crm/*` carries every table with ~3% re-keyed duplicate entities and ~1% malformed rows;
`ticketmaster/*` covers part of the artists, venues and concerts under its own ids and spellings.
`ground_truth/entities` maps every keyed record to its clean id; `ground_truth/bad_rows` lists every
malformed row by file and 1-based row number. Output tables are all-string so bad values survive.
"""

from __future__ import annotations

import logging
import random
import re
import string
import unicodedata
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.errors import EncoreError

logger = logging.getLogger(__name__)

Chunk = tuple[str, pa.Table]
Row = dict[str, Any]

PRIMARY: Final = "encore_crm"
SECOND: Final = "ticketmaster"
BAD_FRACTION: Final = 0.01
DUPLICATE_FRACTION: Final = 0.03
COVERAGE: Final = {"artists": 0.6, "venues": 0.7, "concerts": 0.5}
ENTITY_TYPES: Final = {"artists": "artist", "venues": "venue", "concerts": "concert"}
ID_COLUMNS: Final = {
    "artists": "artist_id",
    "venues": "venue_id",
    "concerts": "concert_id",
    "fans": "fan_id",
    "ticket_sales": "sale_id",
    "concert_results": "concert_id",
}
# Ticketmaster Discovery API id shapes: a fixed prefix and random base62 characters.
TM_IDS: Final = {"artists": ("K8vZ917", 5), "venues": ("KovZpZA", 5), "concerts": ("vvG1", 12)}

BAD_ROWS_SCHEMA: Final = pa.schema(
    [
        ("table", pa.string()),
        ("row_number", pa.int64()),
        ("key", pa.string()),
        ("reason", pa.string()),
    ]
)
ENTITIES_SCHEMA: Final = pa.schema(
    [(c, pa.string()) for c in ("entity_type", "source", "source_key", "canonical_id")]
)

_INSERTED: Final = ("missing_id", "duplicate_row")
_REASONS: Final[dict[str, tuple[str, ...]]] = {
    "artists": ("invalid_number", "out_of_range", "missing_id", "duplicate_row"),
    "venues": ("invalid_number", "out_of_range", "unknown_enum", "missing_id", "duplicate_row"),
    "concerts": (
        "impossible_date", "unknown_enum", "invalid_number", "out_of_range",
        "missing_id", "orphan_fk", "duplicate_row",
    ),
    "fans": ("unknown_enum", "impossible_date", "missing_id", "duplicate_row"),
    "ticket_sales": (
        "invalid_number", "out_of_range", "impossible_date", "unknown_enum", "amount_mismatch",
        "missing_id", "orphan_fk", "duplicate_row",
    ),
    "concert_results": (
        "invalid_number", "out_of_range", "missing_id", "orphan_fk", "duplicate_row",
    ),
}  # fmt: skip
_NUMBERS: Final = {
    "artists": ("popularity", "followers"),
    "venues": ("capacity", "latitude", "longitude"),
    "concerts": ("price_min", "price_max"),
    "ticket_sales": ("quantity", "unit_price", "amount"),
    "concert_results": ("tickets_sold", "capacity", "gross_revenue"),
}
_DATES: Final = {"concerts": "event_date", "fans": "signup_date", "ticket_sales": "sold_at"}
_ENUM_TYPOS: Final = {
    "venue_type": ("stadum", "arrena", "theatr", "clubb", "amfitheater", "outdoorr"),
    "status": ("complted", "sched", "postponed", "canceld"),
    "channel": ("webb", "mobil", "box-ofice", "fax"),
    "price_tier": ("premum", "generall", "vipp", "gold"),
    "age_band": ("18-25", "teen", "99+", "65-70"),
}
_FOREIGN: Final = {
    "concerts": (("artist_id", "artists"), ("venue_id", "venues")),
    "ticket_sales": (("concert_id", "concerts"),),
    "concert_results": (("concert_id", "concerts"),),
}


def make_dirty(
    chunks: Iterable[Chunk], seed: int, *, bad_fraction: float = BAD_FRACTION
) -> Iterator[Chunk]:
    """Turn the clean `(table, chunk)` stream into `(relative_name, all-string chunk)` pairs."""
    dirtier = _Dirtier(seed, bad_fraction)
    held: dict[str, list[pa.Table]] = {}
    for name, chunk in chunks:
        if name in ENTITY_TYPES:
            if dirtier.entities_done:
                raise EncoreError(f"{name} arrived after ticket data; dirty mode needs it first")
            held.setdefault(name, []).append(chunk)
            continue
        if name in _FOREIGN and not dirtier.entities_done:
            if set(held) != set(ENTITY_TYPES):
                raise EncoreError(
                    f"{name} arrived before {sorted(set(ENTITY_TYPES) - set(held))}; "
                    "dirty mode needs artists, venues and concerts before what refers to them"
                )
            yield from dirtier.entities(held)
        yield from dirtier.emit(f"{PRIMARY}/{name}", name, chunk)
    if not dirtier.entities_done:
        yield from dirtier.entities(held)


class _Dirtier:
    """Row counters, known ids and seeded randomness shared by every table of one run."""

    def __init__(self, seed: int, bad_fraction: float) -> None:
        self.seed = seed & 0xFFFF_FFFF_FFFF_FFFF
        self.bad_fraction = bad_fraction
        self.entities_done = False
        self.rows: dict[str, int] = {}
        self.chunks: dict[str, int] = {}
        self.known: dict[str, set[str]] = {t: set() for t in ENTITY_TYPES}

    def rngs(self, tag: str) -> tuple[np.random.Generator, random.Random]:
        """Independent, reproducible generators per output file and chunk."""
        index = self.chunks.get(tag, 0)
        self.chunks[tag] = index + 1
        return (
            np.random.default_rng([self.seed, zlib.crc32(tag.encode()), index]),
            random.Random(f"{self.seed}/{tag}/{index}"),  # noqa: S311 - reproducible, not secret
        )

    def entities(self, held: dict[str, list[pa.Table]]) -> Iterator[Chunk]:
        """Emit both sources' artists, venues and concerts and their entity ground truth."""
        self.entities_done = True
        tables = {n: pa.concat_tables(held[n]) for n in ENTITY_TYPES if n in held}
        rows = {n: t.to_pylist() for n, t in tables.items()}
        np_rng, rnd = self.rngs("ground_truth/entities")
        covered = _coverage(np_rng, rows)
        tm_ids = {n: _tm_ids(rnd, n, rows[n], covered[n]) for n in rows}
        crm: dict[str, list[Row]] = {}
        tm: dict[str, list[Row]] = {}
        truth: list[Row] = []
        for name, records in rows.items():
            id_col = ID_COLUMNS[name]
            crm[name], dup_of = _with_duplicates(np_rng, rnd, name, records)
            tm[name] = [
                _second_source(rnd, name, r, tm_ids) for r in records if r[id_col] in tm_ids[name]
            ]
            rnd.shuffle(tm[name])  # a second source has its own order
            if name == "venues":
                _link_ticketmaster(rnd, crm[name], tm_ids["venues"])
            canonical = {tm_key: clean for clean, tm_key in tm_ids[name].items()}
            canonical.update(dup_of)
            for source, recs in ((PRIMARY, crm[name]), (SECOND, tm[name])):
                for r in recs:
                    key = r[id_col]
                    truth.append(_truth(name, source, key, canonical.get(key, str(key))))
                    self.known[name].add(key)
        for name in rows:
            schema = tables[name].schema
            for source, recs in ((PRIMARY, crm[name]), (SECOND, tm[name])):
                typed = pa.Table.from_pylist(recs, schema=schema)
                yield from self.emit(f"{source}/{name}", name, typed)
        yield "ground_truth/entities", pa.Table.from_pylist(truth, schema=ENTITIES_SCHEMA)

    def emit(self, rel: str, kind: str, typed: pa.Table) -> Iterator[Chunk]:
        """Stringify, corrupt and yield one chunk, then the bad-row ground truth for it."""
        np_rng, rnd = self.rngs(rel)
        table, bad = _corrupt(np_rng, rnd, kind, typed, self.bad_fraction, self.known)
        first = self.rows.get(rel, 0)
        self.rows[rel] = first + table.num_rows
        yield rel, table
        if bad:
            records = [
                {"table": rel, "row_number": first + pos + 1, "key": key, "reason": reason}
                for pos, key, reason in bad
            ]
            yield "ground_truth/bad_rows", pa.Table.from_pylist(records, schema=BAD_ROWS_SCHEMA)
        logger.debug("%s: %d rows, %d malformed", rel, table.num_rows, len(bad))


# --- the second source and the within-source duplicates ----------------------------------------


def _coverage(rng: np.random.Generator, rows: dict[str, list[Row]]) -> dict[str, set[str]]:
    """Clean ids the second source lists; it favours busy artists and venues, as ticketing does."""
    concerts = rows.get("concerts", [])
    covered: dict[str, set[str]] = {}
    for name, fk in (("artists", "artist_id"), ("venues", "venue_id")):
        ids = [str(r[ID_COLUMNS[name]]) for r in rows.get(name, [])]
        busy = Counter(str(c[fk]) for c in concerts)
        weights = np.array([busy[i] + 1.0 for i in ids])
        size = round(len(ids) * COVERAGE[name])
        picks = rng.choice(len(ids), size, replace=False, p=weights / weights.sum()) if ids else ()
        covered[name] = {ids[int(i)] for i in picks}
    eligible = [
        str(c["concert_id"])
        for c in concerts
        if c["artist_id"] in covered["artists"] and c["venue_id"] in covered["venues"]
    ]
    size = min(len(eligible), round(len(concerts) * COVERAGE["concerts"]))
    covered["concerts"] = {eligible[i] for i in rng.choice(len(eligible), size, replace=False)}
    return covered


def _tm_ids(rnd: random.Random, name: str, records: list[Row], covered: set[str]) -> dict[str, str]:
    """Clean id -> second-source id; venues keep the Ticketmaster id the clean data already has."""
    prefix, length = TM_IDS[name]
    alphabet = string.digits + string.ascii_letters
    out: dict[str, str] = {}
    used: set[str] = set()
    for r in records:
        key = str(r[ID_COLUMNS[name]])
        if key not in covered:
            continue
        tm_id = r.get("ticketmaster_id") if name == "venues" else None
        while not isinstance(tm_id, str) or tm_id in used:
            tm_id = prefix + "".join(rnd.choices(alphabet, k=length))
        out[key] = tm_id
        used.add(tm_id)
    return out


def _with_duplicates(
    rng: np.random.Generator, rnd: random.Random, name: str, records: list[Row]
) -> tuple[list[Row], dict[str, str]]:
    """The primary source's records plus ~3% re-keyed re-entries; returns new id -> clean id."""
    id_col = ID_COLUMNS[name]
    size = round(len(records) * DUPLICATE_FRACTION)
    picks = np.sort(rng.choice(len(records), size, replace=False)).tolist()
    new_ids = _next_ids([str(r[id_col]) for r in records], len(picks))
    after: dict[int, list[Row]] = {}
    dup_of: dict[str, str] = {}
    for pick, new_id in zip(picks, new_ids, strict=True):
        dup = _variant(rnd, name, records[pick], second=False, tm_ids={})
        dup[id_col] = new_id
        dup_of[new_id] = str(records[pick][id_col])
        # a re-entry is made later than the original, so it sits somewhere after it
        after.setdefault(rnd.randint(pick, len(records) - 1), []).append(dup)
    out: list[Row] = []
    for i, r in enumerate(records):
        out.append(dict(r))
        out.extend(after.get(i, []))
    if name == "venues":
        for r in out:
            r["ticketmaster_id"] = None
    return out, dup_of


def _link_ticketmaster(rnd: random.Random, venues: list[Row], tm_ids: dict[str, str]) -> None:
    """The CRM records the Ticketmaster id of only some venues it shares with Ticketmaster."""
    for r in venues:
        tm_id = tm_ids.get(str(r["venue_id"]))
        if tm_id is not None and rnd.random() < 0.4:
            r["ticketmaster_id"] = tm_id


def _second_source(rnd: random.Random, name: str, r: Row, tm_ids: dict[str, dict[str, str]]) -> Row:
    """The second source's copy of a clean record: its own ids, its own spellings."""
    out = _variant(rnd, name, r, second=True, tm_ids=tm_ids)
    out[ID_COLUMNS[name]] = tm_ids[name][str(r[ID_COLUMNS[name]])]
    return out


def _truth(name: str, source: str, key: str, canonical: str) -> Row:
    return {
        "entity_type": ENTITY_TYPES[name],
        "source": source,
        "source_key": key,
        "canonical_id": canonical,
    }


def _next_ids(existing: list[str], count: int) -> list[str]:
    """New ids in the existing style ("A0042" -> "A0201"), never one already used."""
    parsed = [re.fullmatch(r"(\D*)(\d+)", i) for i in existing]
    taken = set(existing)
    if existing and all(parsed) and len({m.group(1) for m in parsed if m}) == 1:
        prefix = parsed[0].group(1) if parsed[0] else ""
        width = max(len(m.group(2)) for m in parsed if m)
        start = max(int(m.group(2)) for m in parsed if m) + 1
        return [f"{prefix}{n:0{width}d}" for n in range(start, start + count)]
    out: list[str] = []
    n = 0
    while len(out) < count:
        n += 1
        candidate = f"{existing[len(out) % len(existing)]}-{n}"
        if candidate not in taken:
            out.append(candidate)
            taken.add(candidate)
    return out


def _variant(
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

Breaker = Callable[[random.Random, str, Row, dict[str, set[str]]], dict[str, str]]
_LOOKALIKE: Final = {"0": "O", "1": "l", "2": "Z", "5": "S", "6": "b", "8": "B"}
_NULLABLE_NUMBERS: Final = {"price_min", "price_max"}


def _corrupt(
    rng: np.random.Generator,
    rnd: random.Random,
    kind: str,
    typed: pa.Table,
    fraction: float,
    known: dict[str, set[str]],
) -> tuple[pa.Table, list[tuple[int, str | None, str]]]:
    """An all-string copy of `typed` with malformed rows, and their (position, key, reason)."""
    n = typed.num_rows
    table = _stringify(typed)
    id_col = ID_COLUMNS.get(kind, table.column_names[0])
    reasons = [r for r in _REASONS.get(kind, _INSERTED) if _applies(r, kind, table.column_names)]
    count = max(1, round(n * fraction)) if n and fraction > 0 and reasons else 0
    picked = [str(r) for r in rng.permutation(np.resize(np.array(reasons), count))]
    in_place = [r for r in picked if r not in _INSERTED][:n]
    inserted = [r for r in picked if r in _INSERTED]
    rows = np.sort(rng.choice(n, len(in_place), replace=False))
    edits: dict[str, dict[int, str]] = {}
    for row, reason, record in zip(
        rows.tolist(), in_place, typed.take(rows).to_pylist(), strict=True
    ):
        for col, value in _BREAKERS[reason](rnd, kind, record, known).items():
            edits.setdefault(col, {})[row] = value
    for col, by_row in edits.items():
        mask = np.zeros(n, dtype=bool)
        mask[list(by_row)] = True
        values = pa.array([by_row[r] for r in sorted(by_row)], pa.string())
        patched = pc.replace_with_mask(table.column(col).combine_chunks(), pa.array(mask), values)
        table = table.set_column(table.column_names.index(col), col, patched)

    # exact duplicates and id-less copies are extra rows placed somewhere after their source row
    untouched = np.ones(n, dtype=bool)
    untouched[rows] = False
    clean = np.flatnonzero(untouched)
    sources = rng.choice(clean, len(inserted), replace=len(clean) < len(inserted)) if n else clean
    extra = table.take(sources)
    missing = np.array([r == "missing_id" for r in inserted], dtype=bool)
    if missing.any():
        blank = pa.array([""] * int(missing.sum()), pa.string())
        ids = pc.replace_with_mask(extra.column(id_col).combine_chunks(), pa.array(missing), blank)
        extra = extra.set_column(extra.column_names.index(id_col), id_col, ids)
    order = np.insert(np.arange(n), rng.integers(sources + 1, n + 1), n + np.arange(len(inserted)))
    table = pa.concat_tables([table, extra]).take(order)
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    bad = [int(position[r]) for r in rows.tolist()] + [
        int(position[n + j]) for j in range(len(inserted))
    ]
    keys = table.column(id_col).take(pa.array(bad, pa.int64())).to_pylist()
    return table, sorted(zip(bad, keys, in_place + inserted, strict=True))


def _stringify(typed: pa.Table) -> pa.Table:
    """Every column as strings (ISO dates and timestamps); nulls stay null."""
    columns = []
    for field, column in zip(typed.schema, typed.columns, strict=True):
        text = column.cast(pa.string())
        if pa.types.is_timestamp(field.type):
            text = pc.replace_substring(text, " ", "T", max_replacements=1)
        columns.append(text)
    return pa.table(columns, names=typed.column_names)


def _applies(reason: str, kind: str, columns: list[str]) -> bool:
    """Whether this table has the columns a kind of damage needs."""
    needs = {
        "invalid_number": _NUMBERS.get(kind, ()),
        "out_of_range": _NUMBERS.get(kind, ()),
        "impossible_date": (_DATES[kind],) if kind in _DATES else (),
        "unknown_enum": tuple(c for c in _ENUM_TYPOS if c in columns),
        "amount_mismatch": ("quantity", "unit_price", "amount"),
        "orphan_fk": tuple(c for c, _ in _FOREIGN.get(kind, ())),
    }.get(reason, (ID_COLUMNS.get(kind, columns[0]),))
    return bool(needs) and all(c in columns for c in needs)


def _bad_number(
    rnd: random.Random, kind: str, rec: Row, known: dict[str, set[str]]
) -> dict[str, str]:
    col = rnd.choice(_NUMBERS[kind])
    text = "100.00" if rec[col] is None else str(rec[col])
    spots = [i for i, c in enumerate(text) if c in _LOOKALIKE]
    if col not in _NULLABLE_NUMBERS and (not spots or rnd.random() < 0.3):
        return {col: rnd.choice(["n/a", "N/A", "TBD", "unknown"])}
    if not spots:
        return {col: text + "O"}
    i = rnd.choice(spots)  # a letter typed for a look-alike digit: "12O0"
    return {col: text[:i] + _LOOKALIKE[text[i]] + text[i + 1 :]}


def _out_of_range(
    rnd: random.Random, kind: str, rec: Row, known: dict[str, set[str]]
) -> dict[str, str]:
    choices: list[dict[str, str]]
    if kind == "artists":
        choices = [
            {"popularity": str(rnd.choice([140, rnd.randint(101, 250), -rnd.randint(1, 20)]))},
            {"followers": str(-rnd.randint(1, 10_000))},
        ]
    elif kind == "venues":
        capacity = int(rec["capacity"])
        choices = [
            {"capacity": rnd.choice(["0", str(-capacity), str(capacity * 1000)])},
            {"latitude": rnd.choice(["123.4", f"{abs(float(rec['latitude'])) + 90.5:.5f}"])},
            {"longitude": f"{abs(float(rec['longitude'])) + 180.5:.5f}"},
        ]
    elif kind == "concerts":
        price = max(Decimal(str(rec["price_min"] or 25)), Decimal(1))
        choices = [{"price_min": f"{-price:.2f}"}]
    elif kind == "ticket_sales":
        quantity, price = int(rec["quantity"]), Decimal(str(rec["unit_price"]))
        many = rnd.randint(150, 900)
        choices = [
            {"quantity": "0", "amount": "0.00"},
            {"quantity": str(many), "amount": f"{many * price:.2f}"},
            {
                "unit_price": f"{-max(price, Decimal(5)):.2f}",
                "amount": f"{-max(price, Decimal(5)) * quantity:.2f}",
            },
        ]
    else:
        capacity = int(rec.get("capacity") or 1000)
        choices = [
            {"capacity": "0"},
            {"tickets_sold": str(capacity + rnd.randint(1, 500))},
            {"gross_revenue": f"-{rnd.randint(100, 99_999)}.00"},
        ]
    return rnd.choice(choices)


def _impossible_date(
    rnd: random.Random, kind: str, rec: Row, known: dict[str, set[str]]
) -> dict[str, str]:
    col = _DATES[kind]
    value = rec[col] or date(2023, 6, 15)
    y, m, d = f"{value.year:04d}", value.month, value.day
    text = rnd.choice(
        [
            f"{y}-02-{rnd.choice([30, 31])}",
            f"{y}-04-31",
            f"{y}-13-{d:02d}",
            f"0{y[:3]}-{m:02d}-{d:02d}",
        ]
    )
    return {col: text + (f"T{value:%H:%M:%S}" if isinstance(value, datetime) else "")}


def _unknown_enum(
    rnd: random.Random, kind: str, rec: Row, known: dict[str, set[str]]
) -> dict[str, str]:
    col = rnd.choice([c for c in _ENUM_TYPOS if c in rec])
    return {col: rnd.choice(_ENUM_TYPOS[col])}


def _amount_mismatch(
    rnd: random.Random, kind: str, rec: Row, known: dict[str, set[str]]
) -> dict[str, str]:
    quantity, price = int(rec["quantity"]), Decimal(str(rec["unit_price"]))
    total = price * quantity
    wrong = [total + Decimal("1.00"), total * 10 + Decimal("0.50")]
    if quantity > 1 and price > 0:
        wrong.append(price)  # the unit price keyed as the total
    if total >= Decimal("0.01"):
        wrong.append(total - Decimal("0.01"))
    return {"amount": f"{rnd.choice(wrong):.2f}"}


def _orphan_fk(
    rnd: random.Random, kind: str, rec: Row, known: dict[str, set[str]]
) -> dict[str, str]:
    col, parent = rnd.choice(_FOREIGN[kind])
    return {col: _orphan(rnd, str(rec[col] or "X0000"), known.get(parent, set()))}


def _orphan(rnd: random.Random, template: str, known: set[str]) -> str:
    """An id in the style of `template` that no record of that entity has, in any source."""
    for attempt in range(40):
        # rewrite more trailing characters after each miss: dense numeric ids need several
        chars = list(template)
        for i in range(max(1, len(chars) - 4 - attempt // 4), len(chars)):
            pool = string.digits if chars[i].isdigit() else string.ascii_letters
            chars[i] = rnd.choice(pool) if chars[i].isalnum() else chars[i]
        if (candidate := "".join(chars)) not in known:
            return candidate
    while (candidate := template + "".join(rnd.choices(string.digits, k=6))) in known:
        pass
    return candidate


_BREAKERS: Final[dict[str, Breaker]] = {
    "invalid_number": _bad_number,
    "out_of_range": _out_of_range,
    "impossible_date": _impossible_date,
    "unknown_enum": _unknown_enum,
    "amount_mismatch": _amount_mismatch,
    "orphan_fk": _orphan_fk,
}
