"""Malformed rows of the kinds real files carry, each with the reason it is bad."""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

Row = dict[str, Any]
Breaker = Callable[[random.Random, str, Row, dict[str, set[str]]], dict[str, str]]

ID_COLUMNS: Final = {
    "artists": "artist_id",
    "venues": "venue_id",
    "concerts": "concert_id",
    "fans": "fan_id",
    "ticket_sales": "sale_id",
    "concert_results": "concert_id",
}

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
FOREIGN_KEYS: Final = {
    "concerts": (("artist_id", "artists"), ("venue_id", "venues")),
    "ticket_sales": (("concert_id", "concerts"),),
    "concert_results": (("concert_id", "concerts"),),
}


_LOOKALIKE: Final = {"0": "O", "1": "l", "2": "Z", "5": "S", "6": "b", "8": "B"}
_NULLABLE_NUMBERS: Final = {"price_min", "price_max"}


def corrupt(
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
        "orphan_fk": tuple(c for c, _ in FOREIGN_KEYS.get(kind, ())),
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
    col, parent = rnd.choice(FOREIGN_KEYS[kind])
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
