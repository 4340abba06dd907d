"""The ETL at scale: the DuckDB transforms run on Spark (Glue / EMR), transpiled by sqlglot.

There is one copy of the rules. The SQL `pipelines.transforms` generates for DuckDB (header
aliases, normalisers, `validation_sql`, then `duplicate_key_sql`) is built here exactly as
`pipelines.ingest` builds it, parsed with sqlglot's DuckDB dialect, passed through `RULES` and
written as Spark SQL. Each rule is one place where the two engines read the same SQL differently:

    DuckDB                                  Spark (3.5 on Glue 5.0; 4.x in the tests)
    * EXCLUDE (a, b)                        the columns it keeps, listed (Spark 3.5 has no
                                            * EXCEPT): `pipelines.aws.star_columns`
    prefix, suffix, strlen                  startswith, endswith, octet_length
    nfc_normalize                           ICU4J's Normalizer.compose by reflect (Spark 4),
                                            else a Python UDF (Spark 3.5 has no ICU4J)
    RE2: `$` ends the text, \\s lacks \\v,    Java: `$` also before a final newline, \\s has
    `.` stops only at \\n                    \\v, `.` stops at \\r too: spelled out
    regexp_replace: first match unless 'g', always every match (refused unless anchored),
    `\\1` in the replacement, flags 'gi'     `$1`, (?iu)
    regexp_full_match                       RLIKE anchored with ^(?:...)\\z
    try_strptime(x, [formats])              coalesce(try_to_timestamp(x, java format), ...)
    timezone('UTC', timestamptz)            the instant as TIMESTAMP_NTZ in a UTC session
    TRY_CAST AS BIGINT rounds "1.5",        NULL for those: read as a decimal and rounded,
    reads "1e3" and "0x10"                  hex by conv()
    TRY_CAST AS DOUBLE refuses "1d", "1f"   Java's parser reads them: refused first
    TRY_CAST AS DATE refuses "2024",        reads them: only DuckDB's shapes are cast
    "2024-01", reads "2024/01/02"
    TRY_CAST AS TIMESTAMP refuses           reads it: only DuckDB's shapes are cast, and a
    "2024-01-02 10", ignores a zone         trailing zone is dropped first
    TRY_CAST AS TIMESTAMPTZ reads a zone     reads a zone only after the seconds: ":00" is
    after "10:00"                           added where they are missing
    len(list)                               size(array)

`tests/aws/test_spark.py` runs messy and real inputs through both engines and asserts the same
accepted values and the same quarantine reasons, row by row.

Given the raw rows' `source`, the plan also takes the two steps that need the warehouse, against
its published copy on the lake (`register_references`):

- Foreign keys: `pipelines.load.foreign_key_sql`, the SQL the ingest runs, transpiled. It reads
  `entity_map` and one view per parent table (`artists`, `venues`, `concerts`, `fans`) holding
  the ids a reference may name: the canonical ids the warehouse holds (published with the map),
  the ids of the parent's curated datasets and so those this run curated before (parents run
  first). A key with no parent is quarantined as `orphan_fk`, the same reason as in DuckDB; a key
  this source has a link for becomes the canonical id.
- Entity resolution, the part that needs no matching: an artist, venue or concert whose source
  key `entity_map` links already carries the canonical id. The others keep their source key and
  are marked unresolved; so is a row whose reference is not yet a canonical id. Fuzzy matching
  needs the warehouse's entities and writes `entity_map`, so it stays with the local resolver
  (`encore ingest` of the raw files): the Glue job never founds or merges an entity. Curated rows
  carry `_source`, `_source_key` (the source's own id) and `_resolved`; a reader that needs
  canonical ids takes `_resolved` rows only.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal

import sqlglot
from sqlglot import exp

from core.errors import ConfigError, SourceError
from core.schemas import ENTITY_SCHEMAS
from pipelines.aws.star_columns import expand_star_excludes, read_tables, spark4_only
from pipelines.transforms.aliases import map_columns
from pipelines.transforms.normalize import FIELD_NORMALISERS
from pipelines.transforms.resolve import RESOLUTIONS
from pipelines.transforms.validate import validation_sql

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

LINE: Final = "_line"
REASONS: Final = "_reasons"
SOURCE_PREFIX: Final = "_src_"
"""Raw columns carried through the transforms as `_src_<i>`, for the quarantine's record."""
SOURCE: Final = "_source"
SOURCE_KEY: Final = "_source_key"
RESOLVED: Final = "_resolved"
ENTITY_MAP: Final = "entity_map"
"""The reference view of links: entity_type, source, source_key, canonical_id. Rows with no
source list the ids the warehouse holds (see `register_references`)."""
PARENT_TYPES: Final = {"artists": "artist", "venues": "venue", "concerts": "concert", "fans": "fan"}
"""Parent table -> the entity_type its ids are published under in the map."""
NFC_UDF: Final = "encore_nfc_normalize"
_ICU: Final = "com.ibm.icu.text.Normalizer"
SPARK_CONF: Final = {
    # instants are stored in UTC, as the DuckDB warehouse stores them
    "spark.sql.session.timeZone": "UTC",
    # the same cast and overflow rules on Glue's Spark 3.5 as on Spark 4 (its default)
    "spark.sql.ansi.enabled": "true",
    # Spark 3.5 raises on text the pre-3.0 parser would have read; the formats here are strict
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
}

Nfc = Literal["icu", "udf"]


# -- the DuckDB SQL, built as pipelines.ingest builds it ----------------------------------------


@dataclass(frozen=True)
class TransformPlan:
    """The transforms of one raw dataset: the DuckDB SQL and what it reads and keeps."""

    entity: str
    sql: str  # DuckDB SQL over `relation`
    mapping: dict[str, str]  # raw column -> schema field
    sources: dict[str, str]  # "_src_<i>" -> raw column, every raw column in order
    fields: list[str]  # the schema's fields, in order
    curated: list[str] = field(default_factory=list)  # the columns curated beyond the fields


def plan_transforms(
    entity: str, columns: Sequence[str], relation: str, *, source: str | None = None
) -> TransformPlan:
    """The DuckDB SQL validating and normalising `relation` (text columns plus `_line`).

    Columns map to schema fields by their header aliases and are normalised on the way in, as in
    `pipelines.ingest`; foreign keys are checked as there when `source` is given (reading the
    reference views, see the module docstring); rows whose key repeats are flagged as there
    (`duplicate_key_sql`); then, with `source`, known links are applied (`resolution_sql`).
    Output: the typed schema fields, `_line`, `_reasons`, the raw columns as `_src_<i>` and,
    with `source`, the resolution columns.
    """
    from pipelines.load import duplicate_key_sql, foreign_key_sql  # beside the merge rules

    if entity not in ENTITY_SCHEMAS:
        raise SourceError(f"unknown entity {entity!r}; one of {', '.join(ENTITY_SCHEMAS)}")
    schema = ENTITY_SCHEMAS[entity]
    raw = [c for c in columns if c != LINE]
    mapping = map_columns(raw, entity)
    if not mapping:
        raise SourceError(f"none of the columns {raw} fit {entity}", columns=raw)
    sources = {f"{SOURCE_PREFIX}{i}": column for i, column in enumerate(raw)}
    projections = [
        f"{FIELD_NORMALISERS.get(field, lambda e: e)(_quote(column))} AS {_quote(field)}"
        for column, field in mapping.items()
    ]
    projections += [f"{_quote(column)} AS {name}" for name, column in sources.items()]
    mapped = f"(SELECT {', '.join(projections)}, {LINE} FROM {relation}) AS mapped"
    # Spark has no ENUM type: fixed vocabularies are checked and kept as text
    checked = validation_sql(
        schema, mapped, list(mapping.values()), keep=[LINE, *sources], enums=False
    )
    if source is not None:
        checked = foreign_key_sql(entity, source, f"({checked})")
    fields = list(schema.model_fields)
    sql = f"SELECT * FROM ({checked}) AS checked"
    if entity != "concert_listings":  # listings have no key (as in ingest)
        sql = duplicate_key_sql(fields[0], f"({checked}) AS checked")
    if source is None:
        return TransformPlan(entity, sql, mapping, sources, fields)
    curated = [SOURCE, *([SOURCE_KEY] if entity in RESOLUTIONS else []), RESOLVED]
    sql = resolution_sql(entity, source, f"({sql})")
    return TransformPlan(entity, sql, mapping, sources, fields, curated)


def resolution_sql(entity: str, source: str, rows: str) -> str:
    """SELECT `rows` with the known links applied: see the module docstring.

    An artist, venue or concert the map links (this source, its key) takes the canonical id and
    keeps its key as `_source_key`; `_resolved` is true when the row's own id and every reference
    to an artist, venue or concert are canonical ids (listings name things: never resolved).
    """
    from pipelines.load import _FOREIGN_KEYS  # the references the ingest checks

    quoted = "'" + source.replace("'", "''") + "'"
    joins: list[str] = []
    resolved: list[str] = []
    replaced = ""
    extra = ""
    if entity in RESOLUTIONS:
        spec = RESOLUTIONS[entity]
        key = spec.id_column
        joins.append(
            f"LEFT JOIN {ENTITY_MAP} own ON own.entity_type = '{spec.entity_type}' "
            f"AND own.source = {quoted} AND own.source_key = r.{key}"
        )
        replaced = f" EXCLUDE ({key})"
        extra = f", coalesce(own.canonical_id, r.{key}) AS {key}, r.{key} AS {SOURCE_KEY}"
        resolved.append("own.canonical_id IS NOT NULL")
    for i, (column, parent) in enumerate(_FOREIGN_KEYS.get(entity, {}).items()):
        if parent not in RESOLUTIONS:
            continue  # fans are not resolved: their ids are the warehouse's
        joins.append(
            f"LEFT JOIN (SELECT DISTINCT canonical_id FROM {ENTITY_MAP} WHERE entity_type = "
            f"'{PARENT_TYPES[parent]}') k{i} ON k{i}.canonical_id = r.{column}"
        )
        resolved.append(f"k{i}.canonical_id IS NOT NULL")
    if entity == "concert_listings":
        resolved = ["false"]
    return (
        f"SELECT r.*{replaced}{extra}, {quoted} AS {SOURCE}, "
        f"{' AND '.join(resolved) or 'true'} AS {RESOLVED} FROM {rows} r {' '.join(joins)}"
    )


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# -- DuckDB SQL -> Spark SQL ------------------------------------------------------------------


class UnsupportedSqlError(ConfigError):
    """DuckDB SQL with no faithful Spark rewrite (yet): fail loudly rather than differ."""


def to_spark(
    sql: str, *, nfc: Nfc = "icu", columns: Mapping[str, Sequence[str]] | None = None
) -> str:
    """DuckDB SQL as Spark 3.5 SQL meaning the same (see the module docstring).

    `columns`: the columns of the tables the SQL reads, needed to spell out `* EXCLUDE`
    (`pipelines.aws.star_columns`); SQL with none may leave it out.
    """
    tree = sqlglot.parse_one(sql, read="duckdb")
    if not isinstance(tree, exp.Expression):
        raise UnsupportedSqlError(f"not one SQL statement: {sql[:200]}")
    try:
        tree = expand_star_excludes(tree, columns)
    except ConfigError as exc:
        raise UnsupportedSqlError(str(exc)) from exc
    for rule in RULES:
        tree = _rewrite(tree, rule, nfc)
    spark_sql = tree.sql(dialect="spark")
    refused = spark4_only(spark_sql)
    if refused:
        raise UnsupportedSqlError("Spark 3.5 (Glue 5.0) refuses " + "; ".join(refused))
    return spark_sql


def read_columns(spark: SparkSession, sql: str) -> dict[str, list[str]]:
    """The columns of the views and tables the DuckDB `sql` reads, as the session has them."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    if not isinstance(tree, exp.Expression):
        raise UnsupportedSqlError(f"not one SQL statement: {sql[:200]}")
    return {t: spark.table(t).columns for t in read_tables(tree)}


def _rewrite(node: exp.Expression, rule: Rule, nfc: Nfc) -> exp.Expression:
    """Apply `rule` bottom-up: children first, so a rewritten node holds rewritten children
    (sqlglot's own `transform` goes top-down and skips the children of a replaced node)."""
    for child in list(node.iter_expressions()):
        _rewrite(child, rule, nfc)
    new = rule(node, nfc)
    if new is not node:
        node.replace(new)
    return new


def _fn(name: str, *args: exp.Expression) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(args))


def _text(value: str) -> exp.Literal:
    return exp.Literal.string(value)


def _matches(value: exp.Expression, java_regex: str) -> exp.RegexpLike:
    return exp.RegexpLike(this=value.copy(), expression=_text(java_regex))


def _try_cast(value: exp.Expression, to: exp.DataType) -> exp.TryCast:
    return exp.TryCast(this=value, to=to, safe=True)


def _when(condition: exp.Expression, then: exp.Expression) -> exp.Case:
    return exp.Case(ifs=[exp.If(this=condition, true=then)])


def _anonymous(node: exp.Expression, name: str) -> bool:
    return isinstance(node, exp.Anonymous) and str(node.name).lower() == name


def _string_functions(node: exp.Expression, nfc: Nfc) -> exp.Expression:
    """prefix/suffix/strlen/nfc_normalize: Spark spells them otherwise or lacks them."""
    renamed = {"prefix": "startswith", "suffix": "endswith", "strlen": "octet_length"}
    if isinstance(node, exp.Anonymous) and str(node.name).lower() in renamed:
        return _fn(renamed[str(node.name).lower()], *node.expressions)
    if _anonymous(node, "nfc_normalize"):
        [value] = node.expressions
        if nfc == "udf":
            return _fn(NFC_UDF, value)
        composed = _fn("reflect", _text(_ICU), _text("compose"), value.copy(), exp.false())
        # ICU throws on NULL where DuckDB returns NULL
        return exp.If(this=exp.Is(this=value, expression=exp.Null()), true=exp.Null(),
                      false=composed)  # fmt: skip
    return node


def _regexes(node: exp.Expression, nfc: Nfc) -> exp.Expression:
    """RE2 patterns as Java patterns, and DuckDB's regexp_replace flags and references."""
    if isinstance(node, exp.RegexpReplace):
        pattern, replacement = node.args["expression"], node.args.get("replacement")
        modifiers = node.args.get("modifiers")
        flags = modifiers.name if isinstance(modifiers, exp.Literal) else ""
        if not isinstance(pattern, exp.Literal) or not isinstance(replacement, exp.Literal):
            raise UnsupportedSqlError("regexp_replace with a computed pattern or replacement")
        if set(flags) - {"g", "i"}:
            raise UnsupportedSqlError(f"regexp_replace flags {flags!r}")
        if "g" not in flags and not pattern.name.startswith("^"):
            # Spark replaces every match; DuckDB without 'g' only the first
            raise UnsupportedSqlError(f"regexp_replace of the first match only: {pattern.name!r}")
        java = java_regex(pattern.name)
        return exp.RegexpReplace(
            this=node.this,
            expression=_text(("(?iu)" if "i" in flags else "") + java),
            replacement=_text(java_replacement(replacement.name)),
        )
    if isinstance(node, exp.RegexpFullMatch | exp.RegexpLike):
        pattern = node.expression
        if not isinstance(pattern, exp.Literal):
            raise UnsupportedSqlError("a regular expression computed at run time")
        java = java_regex(pattern.name)
        if isinstance(node, exp.RegexpFullMatch):
            java = f"^(?:{java})\\z"
        return exp.RegexpLike(this=node.this, expression=_text(java))
    return node


def _strptime(node: exp.Expression, nfc: Nfc) -> exp.Expression:
    """try_strptime(x, [formats]): the first format that reads the whole text wins."""
    if not _anonymous(node, "try_strptime"):
        return node
    value, formats = node.expressions
    listed = formats.expressions if isinstance(formats, exp.Array) else [formats]
    if not all(isinstance(f, exp.Literal) for f in listed):
        raise UnsupportedSqlError("try_strptime with computed formats")
    tries = [_fn("try_to_timestamp", value.copy(), _text(java_format(f.name))) for f in listed]
    return tries[0] if len(tries) == 1 else exp.Coalesce(this=tries[0], expressions=tries[1:])


def _utc(node: exp.Expression, nfc: Nfc) -> exp.Expression:
    """timezone('UTC', instant): the UTC wall clock, i.e. the instant as TIMESTAMP_NTZ in a
    session whose time zone is UTC (SPARK_CONF)."""
    if not _anonymous(node, "timezone"):
        return node
    zone, value = node.expressions
    if not (isinstance(zone, exp.Literal) and zone.name.upper() == "UTC"):
        raise UnsupportedSqlError(f"timezone({zone.sql()}, ...): only UTC is rewritten")
    return exp.Cast(this=value, to=exp.DataType.build("TIMESTAMP_NTZ", dialect="spark"))


# the shapes of text DuckDB's casts read (after trimming), where Spark's read more or fewer;
# a zone after a TIMESTAMP or DATE is read and ignored by DuckDB, applied or refused by Spark
_ZONE: Final = r"( ?(Z|[+-]\d{2}(:?\d{2})?)| [A-Za-z][A-Za-z0-9_/+-]*)"
_CLOCK: Final = r"([T ]\d{1,2}:\d{1,2}(:\d{1,2}(\.\d+)?)?)"
_DATE_SHAPE: Final = rf"^-?\d{{4}}([-/])\d{{1,2}}\1\d{{1,2}}({_CLOCK}{_ZONE}?)?$"
_TIMESTAMP_SHAPE: Final = rf"^-?\d{{4}}-\d{{1,2}}-\d{{1,2}}{_CLOCK}?{_ZONE}?$"
_NO_SECONDS: Final = r"^(-?\d{4}-\d{1,2}-\d{1,2}[T ]\d{1,2}:\d{1,2})(?![:\d])"
_HEX: Final = r"^0[xX][0-9a-fA-F]{1,15}$"
_JAVA_SUFFIX: Final = r"[0-9.][dDfF]$"


def _casts(node: exp.Expression, nfc: Nfc) -> exp.Expression:
    """TRY_CAST of text to the types whose text Spark reads otherwise than DuckDB."""
    if not isinstance(node, exp.TryCast):
        return node
    value, to = node.this, node.to
    if to.is_type(exp.DataType.Type.BIGINT, exp.DataType.Type.INT):
        # DuckDB rounds "1.5" (half away from zero, as Spark's round), reads "1e3" and "0x10"
        decimal = _try_cast(value.copy(), exp.DataType.build("DECIMAL(38, 6)"))
        rounded = _try_cast(exp.Round(this=decimal), to.copy())
        digits = _fn("substring", value.copy(), exp.Literal.number(3))
        as_decimal = _fn("conv", digits, exp.Literal.number(16), exp.Literal.number(10))
        hexadecimal = _try_cast(as_decimal, to.copy())
        return exp.Coalesce(
            this=_try_cast(value.copy(), to.copy()),
            expressions=[rounded, _when(_matches(value, _HEX), hexadecimal)],
        )
    if to.is_type(exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT):
        refused = _matches(value, _JAVA_SUFFIX)
        return _when(exp.Not(this=refused), _try_cast(value.copy(), to.copy()))
    if to.is_type(exp.DataType.Type.DATE):
        dashed = _fn("translate", value.copy(), _text("/"), _text("-"))
        return _when(_matches(value, _DATE_SHAPE), _try_cast(dashed, to.copy()))
    if to.is_type(exp.DataType.Type.TIMESTAMPTZ):  # the zone is applied: an instant
        with_seconds = exp.RegexpReplace(
            this=value.copy(), expression=_text(_NO_SECONDS), replacement=_text("$1:00")
        )
        return _when(_matches(value, _TIMESTAMP_SHAPE), _try_cast(with_seconds, to.copy()))
    if to.is_type(exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIMESTAMPNTZ):
        wall_clock = exp.RegexpReplace(
            this=value.copy(), expression=_text(_ZONE + "$"), replacement=_text("")
        )
        return _when(_matches(value, _TIMESTAMP_SHAPE), _try_cast(wall_clock, to.copy()))
    return node


def _list_length(node: exp.Expression, nfc: Nfc) -> exp.Expression:
    """len(_reasons): DuckDB's len is also the length of a list; Spark's only of text."""
    if (
        isinstance(node, exp.Length)
        and isinstance(node.this, exp.Column)
        and node.this.name == REASONS
    ):
        return exp.ArraySize(this=node.this)
    return node


Rule = Callable[[exp.Expression, Nfc], exp.Expression]
RULES: Final[tuple[Rule, ...]] = (
    _regexes,  # first: the later rules add Java patterns of their own
    _string_functions,
    _casts,
    _strptime,
    _utc,
    _list_length,
)


def java_regex(pattern: str) -> str:
    """An RE2 pattern as a Java pattern matching the same texts.

    `$` (outside a class) ends the text in RE2 but may precede a final newline in Java: `\\z`.
    `\\s` in Java also matches \\v, which RE2's does not: spelled out. `.` in RE2 stops only at \\n.
    """
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            escaped = pattern[i + 1]
            if escaped == "s":
                out.append("\\t\\n\\f\\r " if in_class else "[\\t\\n\\f\\r ]")
            elif escaped in "SpPQE" or (escaped.isdigit() and not in_class):
                raise UnsupportedSqlError(f"\\{escaped} in the pattern {pattern!r}")
            else:
                out.append(char + escaped)
            i += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class and out and out[-1] != "[":
            in_class = False
        if char == "$" and not in_class:
            out.append("\\z")
        elif char == "." and not in_class:  # Java's also stops at \r, \u0085, \u2028, \u2029
            out.append("[^\\n]")
        else:
            out.append(char)
        i += 1
    return "".join(out)


def java_replacement(replacement: str) -> str:
    """A DuckDB replacement (`\\1` refers to a group) as Java's (`$1`; a `$` is literal)."""
    return re.sub(r"\\(\d)|\$", lambda m: f"${m.group(1)}" if m.group(1) else "\\$", replacement)


# strftime directive -> Java pattern letters (free width; fixed when a number touches a number)
_DIRECTIVES: Final[dict[str, tuple[str, str | None]]] = {
    "d": ("d", "dd"),
    "m": ("M", "MM"),
    "Y": ("yyyy", "yyyy"),
    "H": ("H", "HH"),
    "M": ("m", "mm"),
    "S": ("s", "ss"),
    "B": ("MMMM", None),
    "b": ("MMM", None),
}


def java_format(strftime: str) -> str:
    """A DuckDB strptime format as a Java DateTimeFormatter pattern.

    DuckDB reads "8" for `%d`; Java's `d` reads one or two digits too, but two numbers with no
    separator between them ("%Y%m%d") need fixed widths to be told apart.
    """
    parts = re.findall(r"%.|[^%]+", strftime)
    numeric = [p[0] == "%" and _DIRECTIVES.get(p[1], ("", None))[1] is not None for p in parts]
    out: list[str] = []
    for i, part in enumerate(parts):
        if part.startswith("%"):
            if part[1] not in _DIRECTIVES:
                raise UnsupportedSqlError(f"strptime directive {part} in {strftime!r}")
            free, fixed = _DIRECTIVES[part[1]]
            touching = (i > 0 and numeric[i - 1]) or (i + 1 < len(parts) and numeric[i + 1])
            out.append(fixed if numeric[i] and touching and fixed else free)
        else:  # letters are pattern letters in Java: quote them; quotes are doubled
            out.append(re.sub(r"([A-Za-z']+)", lambda m: "'" + m.group(1).replace("'", "''") + "'",
                              part))  # fmt: skip
    return "".join(out)


# -- running on a SparkSession ---------------------------------------------------------------


@dataclass(frozen=True)
class Transformed:
    """One raw dataset after the transforms (lazy DataFrames)."""

    entity: str
    checked: DataFrame  # every row: the typed fields, _line, _reasons and the raw columns
    accepted: DataFrame  # the schema's typed fields and _line: the curated rows
    quarantined: DataFrame  # line_number, record (the raw row as JSON), reasons
    mapping: dict[str, str]
    fields: list[str]


def configure(spark: SparkSession) -> None:
    """Set the session options the transforms' results depend on (SPARK_CONF)."""
    for key, value in SPARK_CONF.items():
        spark.conf.set(key, value)


def nfc_flavour(spark: SparkSession) -> Nfc:
    """ICU4J when the JVM has it (Spark 4 ships it), else a Python UDF registered here."""
    from py4j.protocol import Py4JError

    try:
        spark.sparkContext._jvm.java.lang.Class.forName(_ICU)  # type: ignore[union-attr]
        return "icu"
    except Py4JError:  # ClassNotFoundException, as py4j reports it
        import unicodedata

        from pyspark.sql.functions import udf
        from pyspark.sql.types import StringType

        def nfc(text: str | None) -> str | None:
            return None if text is None else unicodedata.normalize("NFC", text)

        spark.udf.register(NFC_UDF, udf(nfc, StringType()))
        log.info("ICU4J not on the JVM: NFC normalisation runs as a Python UDF")
        return "udf"


def register_references(
    spark: SparkSession, entity_map: DataFrame, parents: dict[str, DataFrame]
) -> None:
    """Register the views the foreign keys and links are read from (see the module docstring).

    `entity_map`: entity_type, source, source_key, canonical_id (rows with no source list the
    ids the warehouse holds). `parents`: parent table -> one column of ids that parent's curated
    datasets hold. Each parent's view is the distinct union of both, named after the table.
    """
    from pyspark.sql import functions as F  # noqa: N812

    from pipelines.load import _PARENT_KEYS

    links = entity_map.select("entity_type", "source", "source_key", "canonical_id")
    links.createOrReplaceTempView(ENTITY_MAP)
    for parent, ids in parents.items():
        key = _PARENT_KEYS[parent]
        known = links.where(F.col("entity_type") == PARENT_TYPES[parent])
        union = known.select(F.col("canonical_id").alias(key)).union(ids.toDF(key))
        union.where(F.col(key).isNotNull()).distinct().createOrReplaceTempView(parent)


def parents_of(entity: str) -> list[str]:
    """The tables `entity`'s foreign keys point to."""
    from pipelines.load import _FOREIGN_KEYS

    return list(_FOREIGN_KEYS.get(entity, {}).values())


def run_transforms(
    spark: SparkSession, raw: DataFrame, entity: str, *, source: str | None = None
) -> Transformed:
    """Validate and normalise one raw dataset on Spark, classifying rows as the DuckDB path does.

    `raw` holds text columns as read (header aliases are applied here) and `_line`, the record's
    line in its file. With `source`, foreign keys and known links are applied too, from the
    views `register_references` made (made before this call).
    """
    from pyspark.sql import functions as F  # noqa: N812 - pyspark's convention

    if LINE not in raw.columns:
        raise SourceError(f"the raw rows need a {LINE} column (the record's line)")
    configure(spark)
    view = f"encore_raw_{uuid.uuid4().hex[:12]}"
    texts = raw.select(
        *[F.col(spark_column(c)).cast("string").alias(c) for c in raw.columns if c != LINE],
        F.col(LINE).cast("bigint").alias(LINE),
    )
    texts.createOrReplaceTempView(view)
    plan = plan_transforms(entity, raw.columns, view, source=source)
    columns = read_columns(spark, plan.sql)
    checked = spark.sql(to_spark(plan.sql, nfc=nfc_flavour(spark), columns=columns))
    spark.catalog.dropTempView(view)  # the query is analysed already: it holds the plan
    valid = F.size(F.col(REASONS)) == 0
    accepted = checked.where(valid).select(*plan.fields, LINE, *plan.curated)
    record = F.to_json(
        F.struct(*[F.col(name).alias(column) for name, column in plan.sources.items()]),
        {"ignoreNullFields": "false"},
    )
    quarantined = checked.where(~valid).select(
        F.col(LINE).alias("line_number"), record.alias("record"), F.col(REASONS).alias("reasons")
    )
    return Transformed(entity, checked, accepted, quarantined, plan.mapping, plan.fields)


def spark_column(column: str) -> str:
    """A column name as DataFrame.col reads it: quoted in backticks, backticks doubled (dots,
    spaces and backticks are syntax there)."""
    return "`" + column.replace("`", "``") + "`"
