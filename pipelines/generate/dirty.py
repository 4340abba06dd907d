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
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any, Final

import numpy as np
import pyarrow as pa

from core.errors import EncoreError
from pipelines.generate.malformed import FOREIGN_KEYS, ID_COLUMNS, corrupt
from pipelines.generate.variants import variant

logger = logging.getLogger(__name__)

Chunk = tuple[str, pa.Table]
Row = dict[str, Any]

PRIMARY: Final = "encore_crm"
SECOND: Final = "ticketmaster"
BAD_FRACTION: Final = 0.01
DUPLICATE_FRACTION: Final = 0.03
COVERAGE: Final = {"artists": 0.6, "venues": 0.7, "concerts": 0.5}
ENTITY_TYPES: Final = {"artists": "artist", "venues": "venue", "concerts": "concert"}
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
        if name in FOREIGN_KEYS and not dirtier.entities_done:
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
        table, bad = corrupt(np_rng, rnd, kind, typed, self.bad_fraction, self.known)
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
        dup = variant(rnd, name, records[pick], second=False, tm_ids={})
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
    out = variant(rnd, name, r, second=True, tm_ids=tm_ids)
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
