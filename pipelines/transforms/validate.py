"""Vectorised validation: an entity schema compiled to one DuckDB SELECT.

The same rules as `core.schemas` (types, ranges, lengths, patterns, enums, required fields and the
cross-field rules), applied to a whole relation of text columns at once. Each output row carries
its typed values and `_reasons`, the list of every rule it breaks (empty when it is valid), in the
form `field: code (detail)`. A test checks that this and the pydantic schemas agree row by row.

Values are coerced leniently before they are checked, as people write them in files:
"$1,200.50" is a number, "8 September 2018" a date, "Box Office" the channel `box_office`.
"""

from __future__ import annotations

import re
import types
import typing
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

import annotated_types
from pydantic import StringConstraints
from pydantic.fields import FieldInfo

from core.schemas import EARLIEST_DATE, MAX_YEARS_AHEAD, UPPER_CASE, Entity

FOOTNOTE: Final = r"\s*\[(\d{1,3}|[a-z]{1,2}|note \d{1,3}|citation needed)\]"
"""A reference mark as wikis print them: "[3]", "[b]", "[note 2]", "[citation needed]"."""

_DATE_FORMATS: Final = [
    "%d %B %Y",
    "%B %d, %Y",
    "%B %d %Y",
    "%d %b %Y",
    "%b %d, %Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%Y/%m/%d",
    "%Y%m%d",
]
_TIMESTAMP_FORMATS: Final = [
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
]

_ZONED: Final = r":\d\d(\.\d+)?(Z| ?[+-]\d\d(:?\d\d)?| ?[A-Za-z][A-Za-z0-9_/+-]*)$"
"""Text that ends in a zone after the time of day: an offset ("Z", "+02:00", "-0500", "+02") or
a name ("UTC", "CET", "Europe/Paris", "Etc/GMT+5"). (A date alone ends like an offset: "-02".)"""
_ZONED_TIMESTAMP: Final = (
    r"\d{4}-\d{1,2}-\d{1,2}[T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?"
    r"(Z|[+-]\d\d(:?\d\d)?| [A-Z][A-Za-z0-9_+-]{2,}(/[A-Z][A-Za-z0-9_+-]*)*)"
)
"""The zoned times that are read: ISO date and clock, then the offset right after the clock or
a zone name after one space, spelled as the tz database spells it. Others are invalid, so DuckDB
and Spark (whose zone parsers differ on the rest) read the same ones."""

# words people use for enum values, mapped to the contract's value
ENUM_SYNONYMS: Final[dict[str, str]] = {
    "theatre": "theater",
    "amphitheatre": "amphitheater",
    "ampitheater": "amphitheater",
    "stadia": "stadium",
    "nightclub": "club",
    "festival": "outdoor",
    "open_air": "outdoor",
    "online": "web",
    "website": "web",
    "app": "mobile",
    "boxoffice": "box_office",
    "box": "box_office",
    "resale": "partner",
    "ga": "general",
    "general_admission": "general",
    "reserved_seating": "reserved",
    "postponed": "scheduled",
    "rescheduled": "scheduled",
    "onsale": "scheduled",
    "on_sale": "scheduled",
    "canceled": "cancelled",
    "played": "completed",
    "past": "completed",
}

# cross-field rules, mirroring the model validators in core.schemas
CROSS_FIELD_RULES: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "Concert": (
        ("on_sale_date > event_date", "record: dates_out_of_order (on_sale_date after event_date)"),
        ("price_min > price_max", "record: prices_out_of_order (price_min exceeds price_max)"),
    ),
    "TicketSale": (
        (
            "amount <> round(quantity * unit_price, 2)",
            "record: amount_mismatch (amount <> quantity x unit_price)",
        ),
    ),
    "ConcertResult": (
        (
            "concert_id IS NULL AND (artist IS NULL OR venue IS NULL OR city IS NULL "
            "OR event_date IS NULL)",
            "record: unidentified (give concert_id, or artist, venue, city and event_date)",
        ),
        ("tickets_sold > capacity", "record: oversold (tickets_sold exceeds capacity)"),
    ),
}


PRICED: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "Concert": ("currency", ("price_min", "price_max"))
}
"""Per schema: its currency field and the prices that are in it. A price's leading symbol
("€45") is not thrown away with the parse: it says the row's currency (see `_currency_sql`)."""

CURRENCY_SYMBOLS: Final[dict[str, tuple[str | None, tuple[str, ...]]]] = {
    "€": ("EUR", ("EUR",)),
    "£": ("GBP", ("GBP",)),
    "¥": ("JPY", ("JPY", "CNY")),
    # "$" alone names no currency: USD, CAD, AUD, MXN... all print it, and a concert row has no
    # country to tell them apart (the venue's is in another table). So it sets none, and the
    # currency stays NULL as with a plain number (no guess stored as a fact); it still conflicts
    # with a non-dollar currency or symbol.
    "$": (None, ("USD", "CAD", "AUD", "NZD", "MXN", "SGD", "HKD", "ARS", "CLP", "COP", "TWD")),
}
"""A price's symbol -> (the currency it sets when the row gives none, the currencies it fits)."""


@dataclass(frozen=True)
class FieldRule:
    """How one schema field is parsed from text and which checks its value must pass."""

    name: str
    sql_type: str
    required: bool
    parse: str  # SQL over `{raw}` (trimmed text, NULL when empty) giving the typed value
    checks: list[tuple[str, str]] = field(
        default_factory=list
    )  # (SQL over `{v}`, `{raw}` and `{text}`, true = broken; code)
    fast: str | None = None
    """SQL over `{text}` (the text as written, untrimmed) giving the value of the usual shapes,
    else NULL; `parse` then reads only the others. DuckDB's casts ignore surrounding spaces and
    an enum value is most often spelled as the contract spells it, so those fields need no
    trimming first (trimming every value was a tenth of the validation's CPU)."""


def compile_schema(schema: type[Entity], *, enums: bool = True) -> list[FieldRule]:
    """The field rules of a schema, in its field order (see `validation_sql` for `enums`)."""
    return [_field_rule(name, info, enums) for name, info in schema.model_fields.items()]


def validation_sql(
    schema: type[Entity],
    relation: str,
    columns: list[str],
    keep: list[str],
    *,
    enums: bool = True,
) -> str:
    """SELECT the schema's typed fields, `_reasons` and the `keep` columns from `relation`.

    `columns` are the text columns the relation has; schema fields it lacks are NULL (and, if
    required, reported missing). Three steps, so each text is trimmed and parsed at most once:
    carry (free text trimmed) -> parse (see `FieldRule.fast`) -> check. A field with a fixed
    vocabulary is a DuckDB ENUM, or with `enums` off (SQL for engines without them, Spark) text.
    """
    rules = compile_schema(schema, enums=enums)
    present = set(columns)
    carried, parsed = [], []
    broken: list[tuple[str, str]] = []  # (SQL true when the rule is broken, the reason's text)
    # Cheaper tests of the same rules, for the rows that break none (nearly all): a required
    # value that is NULL is missing or invalid, and a check of NULL is NULL, never true.
    screens: list[str] = []
    for rule in rules:
        column = f'"_raw_{rule.name}"'
        source = f'"{rule.name}"' if rule.name in present else "NULL"
        text = f"CAST({source} AS VARCHAR)"
        value = f'"{rule.name}"'
        if rule.fast is None:  # free text: trimmed once, for every row
            carried.append(f"{_trimmed(text)} AS {column}")
            raw = column
            parse = rule.parse.replace("{raw}", raw)
            missing, unread = f"{raw} IS NULL", f"{raw} IS NOT NULL AND {value} IS NULL"
        else:  # read as written; trimmed only where that fails (the value comes first)
            carried.append(f"{text} AS {column}")
            raw = _trimmed(column)
            usual = rule.fast.replace("{text}", column)
            parse = f"coalesce({usual}, {rule.parse.replace('{raw}', raw)})"
            missing, unread = (
                f"{value} IS NULL AND {raw} IS NULL",
                f"{value} IS NULL AND {raw} IS NOT NULL",
            )
        parsed.append(f'{parse} AS "{rule.name}"')
        shown = f"' (got ' || {raw} || ')'"
        fallible = rule.parse not in _INFALLIBLE
        if rule.required:
            broken.append((missing, f"'{rule.name}: missing'"))
            screens.append(f"{value} IS NULL")
        elif fallible:
            screens.append(unread)
        if fallible:
            broken.append((unread, f"'{rule.name}: invalid_{_kind(rule)}' || {shown}"))
        for condition, code in rule.checks:
            check = condition.replace("{v}", value).replace("{raw}", raw).replace("{text}", column)
            broken.append(
                (f"{value} IS NOT NULL AND ({check})", f"'{rule.name}: {code}' || {shown}")
            )
            screens.append(check)
    names = ", ".join(f'"{r.name}"' for r in rules)
    if schema.__name__ in PRICED:
        symbols, currency, conflicts = _currency_sql(*PRICED[schema.__name__], present)
        parsed.extend(symbols)
        names = names.replace(f'"{currency[0]}"', f'{currency[1]} AS "{currency[0]}"')
        broken.extend(conflicts)
        screens.extend(c for c, _ in conflicts)
    kept = "".join(f', "{c}"' for c in keep)
    for condition, message in CROSS_FIELD_RULES.get(schema.__name__, ()):
        broken.append((f"coalesce({condition}, false)", f"'{message}'"))
        screens.append(condition)
    # Only the rows the screens catch build their list of reasons (a list per row costs as
    # much as parsing the row).
    reasons = ", ".join(f"CASE WHEN {c} THEN {m} END" for c, m in broken)
    any_broken = " OR ".join(f"({c})" for c in screens) or "false"
    return f"""
        WITH carried AS (SELECT {", ".join(carried)}{kept} FROM {relation}),
        parsed AS (SELECT *, {", ".join(parsed)} FROM carried)
        SELECT {names},
               CASE WHEN {any_broken}
                    THEN list_filter([{reasons}], lambda x: x IS NOT NULL)
                    ELSE []::VARCHAR[] END AS _reasons{kept}
        FROM parsed
    """


def _currency_sql(
    field: str, prices: tuple[str, ...], present: set[str]
) -> tuple[list[str], tuple[str, str], list[tuple[str, str]]]:
    """The SQL that makes a price's currency symbol count: the symbol columns (`parsed` step),
    the currency field's output (the field, else the symbols' currency) and the conflicts
    (condition, reason) between the symbols of a row and its currency field.

    A row with plain numbers costs one `ascii` per price column (its first character is a
    digit: no symbol), and its conflict screens compare NULLs. Only the schemas in `PRICED`
    pay it: ticket sales (no currency field) compile as before.
    """
    priced = [p for p in prices if p in present]
    symbols, conflicts = [], []
    spelled = " ".join(f"WHEN '{s}' THEN '{s}'" for s in CURRENCY_SYMBOLS)
    for price in priced:
        raw = f'"_raw_{price}"'  # a plain number starts with a digit: no string is cut
        first = f"(CASE left(ltrim({raw}), 1) {spelled} END)"
        symbols.append(f'CASE WHEN ascii({raw}) NOT BETWEEN 48 AND 57 THEN {first} END '
                       f'AS "_symbol_{price}"')  # fmt: skip
    named = " ".join(f"WHEN '{s}' THEN '{sets or s}'" for s, (sets, _) in CURRENCY_SYMBOLS.items())

    def shown(price: str) -> str:
        return f"'{price} in ' || (CASE \"_symbol_{price}\" {named} END)"

    for i, first_price in enumerate(priced):
        for other in priced[i + 1 :]:
            a, b = f'"_symbol_{first_price}"', f'"_symbol_{other}"'
            conflicts.append((f"coalesce({a} <> {b}, false)",
                              f"'record: currency_conflict (' || {shown(first_price)} || ', ' "
                              f"|| {shown(other)} || ')'"))  # fmt: skip
        fits = " ".join(
            f"WHEN '{s}' THEN \"{field}\" NOT IN ({', '.join(repr(c) for c in codes)})"
            for s, (_, codes) in CURRENCY_SYMBOLS.items()
        )
        conflicts.append((f'coalesce(CASE "_symbol_{first_price}" {fits} END, false)',
                          f"'record: currency_conflict (' || {shown(first_price)} || ', "
                          f"{field} ' || \"{field}\" || ')'"))  # fmt: skip
    sets = " ".join(f"WHEN '{s}' THEN '{c}'" for s, (c, _) in CURRENCY_SYMBOLS.items() if c)
    found = ", ".join(f'"_symbol_{p}"' for p in priced)
    output = f'coalesce("{field}", CASE coalesce({found}) {sets} END)' if priced else f'"{field}"'
    return symbols, (field, output), conflicts


_INFALLIBLE: Final = frozenset({"{raw}", "lower({raw})", "upper({raw})"})
"""Parses that turn any text into a value: no `invalid_...` reason to look for."""


def _trimmed(text: str) -> str:
    """`text` without surrounding spaces, NULL when empty; most values need no trimming."""
    return (
        f"CASE WHEN prefix({text}, ' ') OR suffix({text}, ' ') THEN nullif(trim({text}), '') "
        f"WHEN {text} = '' THEN NULL ELSE {text} END"
    )


def _kind(rule: FieldRule) -> str:
    if rule.sql_type.startswith("ENUM("):
        return "value"
    return {"DATE": "date", "TIMESTAMP": "timestamp", "VARCHAR": "value"}.get(
        rule.sql_type, "number"
    )


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """The base type of an annotation and the metadata gathered from Optional/Annotated layers."""
    metadata: list[Any] = []
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation, *extra = typing.get_args(annotation)
            for item in extra:  # Field(ge=0) inside Annotated carries its bounds as metadata
                metadata.extend(item.metadata if isinstance(item, FieldInfo) else [item])
        elif origin in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        else:
            return annotation, metadata


def _field_rule(name: str, info: FieldInfo, enums: bool) -> FieldRule:
    base, metadata = _unwrap(info.annotation)
    metadata = [*metadata, *info.metadata]
    checks: list[tuple[str, str]] = []
    for meta in metadata:
        checks.extend(_bound_checks(meta))
    required = info.is_required()
    if typing.get_origin(base) is typing.Literal:
        allowed = typing.get_args(base)
        spelled = ", ".join(f"'{a}'" for a in allowed)  # the contract's spelling: no trim needed
        if not enums:
            fast = f"CASE WHEN {{text}} IN ({spelled}) THEN {{text}} END"
            return FieldRule(name, "VARCHAR", required, _enum_value("{raw}", allowed), fast=fast)
        # a one-byte code, stored as it is where the warehouse column is an ENUM too (0008)
        enum = f"ENUM({spelled})"
        parse = f"CAST({_enum_value('{raw}', allowed)} AS {enum})"
        return FieldRule(name, enum, required, parse, fast=f"TRY_CAST({{text}} AS {enum})")
    if base is str:
        parse = "{raw}"
        for meta in metadata:
            if isinstance(meta, StringConstraints):
                if meta.to_lower:
                    parse = "lower({raw})"
                if isinstance(meta.pattern, str):
                    pattern = meta.pattern.strip("^$")
                    checks.append((f"NOT regexp_full_match({{v}}, '{pattern}')", "bad_format"))
                if meta.min_length and meta.min_length > 1:  # a value is never empty
                    checks.append((f"length({{v}}) < {meta.min_length}", "too_short"))
                if meta.max_length:  # strlen (bytes, known) rules out most before length counts
                    most = meta.max_length
                    longer = f"strlen({{v}}) > {most} AND length({{v}}) > {most}"
                    checks.append((longer, "too_long"))
            if meta == UPPER_CASE:
                parse = "upper({raw})"
        return FieldRule(name, "VARCHAR", required, parse, checks)
    if base is int:
        return FieldRule(name, "BIGINT", required, _number("{raw}", "BIGINT"), checks,
                         fast=_cast("BIGINT"))  # fmt: skip
    if base is float:
        return FieldRule(name, "DOUBLE", required, _number("{raw}", "DOUBLE"), checks,
                         fast=_cast("DOUBLE"))  # fmt: skip
    if base is Decimal:
        places = next((m.decimal_places for m in metadata if getattr(m, "decimal_places", None)), 2)
        # Parsed straight to the field's scale (a 64-bit decimal: checks and the load stay
        # cheap), which rounds; so the text is read again exactly, to find more decimals.
        narrow = f"DECIMAL(18, {places})"
        exact = f"coalesce({_cast('DECIMAL(38, 10)')}, {_number('{raw}', 'DECIMAL(38, 10)')})"
        checks.append((f"{exact} <> {{v}}", f"too_many_decimals (max {places})"))
        return FieldRule(name, narrow, required, _number("{raw}", narrow), checks,
                         fast=_cast(narrow))  # fmt: skip
    if base is date:
        formats = ", ".join(f"'{f}'" for f in _DATE_FORMATS)
        # "18 March 2019[b]": reference-style footnote markers are dropped before parsing
        unmarked = f"regexp_replace({{raw}}, '{FOOTNOTE}', '', 'g')"
        parsed = f"CAST(try_strptime({unmarked}, [{formats}]) AS DATE)"
        parse = f"coalesce(TRY_CAST({{raw}} AS DATE), {parsed})"
        return FieldRule(name, "DATE", required, parse, [*checks, *_plausible()],
                         fast=_cast("DATE"))  # fmt: skip
    if base is datetime:
        # Stored in UTC: a time with a zone ("...T10:00+02", "... 10:00 Europe/Paris") is
        # converted, and an unknown zone is invalid; one without is taken as UTC already. (A
        # plain TIMESTAMP cast would drop the zone.) The common zoneless "YYYY-MM-DD HH:MM:SS"
        # skips the regular expression: it halves the parse's cost.
        formats = ", ".join(f"'{f}'" for f in _TIMESTAMP_FORMATS)
        plain = "strlen({raw}) = 19 AND substring({raw}, 17, 1) = ':'"
        zoned = f"NOT ({plain}) AND regexp_matches({{raw}}, '{_ZONED}')"
        instant = (
            f"CASE WHEN regexp_full_match({{raw}}, '{_ZONED_TIMESTAMP}') "
            "THEN timezone('UTC', TRY_CAST({raw} AS TIMESTAMPTZ)) END"
        )
        parse = (
            f"CASE WHEN {zoned} THEN {instant} "
            f"ELSE coalesce(TRY_CAST({{raw}} AS TIMESTAMP), "
            f"CAST(try_strptime({{raw}}, [{formats}]) AS TIMESTAMP)) END"
        )
        usual = "strlen({text}) = 19 AND substring({text}, 17, 1) = ':'"  # no zone, no spaces
        fast = f"CASE WHEN {usual} THEN {_cast('TIMESTAMP')} END"
        return FieldRule(name, "TIMESTAMP", required, parse, [*checks, *_plausible(cast="::DATE")],
                         fast=fast)  # fmt: skip
    raise TypeError(f"{name}: no SQL rule for {base!r}")


def _bound_checks(meta: Any) -> list[tuple[str, str]]:
    bounds = {
        annotated_types.Ge: ("{v} < {b}", "out_of_range (must be >= {b})", "ge"),
        annotated_types.Gt: ("{v} <= {b}", "out_of_range (must be > {b})", "gt"),
        annotated_types.Le: ("{v} > {b}", "out_of_range (must be <= {b})", "le"),
        annotated_types.Lt: ("{v} >= {b}", "out_of_range (must be < {b})", "lt"),
    }
    for kind, (condition, code, attr) in bounds.items():
        if isinstance(meta, kind):
            bound = getattr(meta, attr)
            return [(condition.replace("{b}", str(bound)), code.replace("{b}", str(bound)))]
    return []


def _plausible(cast: str = "") -> list[tuple[str, str]]:
    latest = date.today() + timedelta(days=365 * MAX_YEARS_AHEAD)
    return [
        (
            f"{{v}}{cast} NOT BETWEEN DATE '{EARLIEST_DATE}' AND DATE '{latest}'",
            f"implausible_date (expected {EARLIEST_DATE} to {latest})",
        )
    ]


def _cast(sql_type: str) -> str:
    return f"TRY_CAST({{text}} AS {sql_type})"


def _number(raw: str, sql_type: str) -> str:
    """A number as written, or with a leading currency symbol, thousands separators and spaces
    stripped: "$1,200.50" -> 1200.50 (where a schema prices in a currency, the symbol is read
    too: `PRICED`). The plain cast comes first: most values need no cleaning.
    """
    cleaned = f"regexp_replace({raw}, '^[$€£¥]|[,\\s_]', '', 'g')"
    return f"coalesce(TRY_CAST({raw} AS {sql_type}), TRY_CAST({cleaned} AS {sql_type}))"


def _fold(text: str) -> str:
    return re.sub(r"[\s\-]+", "_", text.lower())


def _enum_value(raw: str, allowed: tuple[str, ...]) -> str:
    """The allowed value a text names, else NULL: "Box Office" -> "box_office", "GA" -> "general".

    Case, spaces and hyphens are folded on both sides, then common synonyms are mapped.
    """
    folded = f"regexp_replace(lower({raw}), '[\\s\\-]+', '_', 'g')"
    names = {_fold(a): a for a in allowed}
    names.update({k: v for k, v in ENUM_SYNONYMS.items() if v in allowed and k not in names})
    cases = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in names.items())
    exact = ", ".join(f"'{a}'" for a in allowed)
    # most values are already the contract's spelling: only the others are folded
    return f"(CASE WHEN {raw} IN ({exact}) THEN {raw} ELSE (CASE {folded} {cases} END) END)"
