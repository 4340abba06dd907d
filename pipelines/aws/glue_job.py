"""The Glue job (PySpark entrypoint): one raw lake partition through the transforms to curated.

    --lake s3://bucket (or file:///path)  --source files  --dt 2026-11-27
    [--entity venues]  [--max-quarantine-rate 0.5]  [--JOB_RUN_ID ...]

For every file under `raw/source=<source>/dt=<dt>/` (the layout pipelines.lake writes): read it
(CSV, JSON, JSON Lines or XML, the last through the local reader's defusedxml parsing) as text
columns, classify its rows with `pipelines.aws.spark.run_transforms` (the DuckDB rules,
transpiled), then write

    curated/<entity>/dt=<dt>/<raw file stem>-<n>.parquet   the accepted rows (+ _line)
    curated/quarantine/dt=<dt>/<raw file stem>-<n>.parquet run_id, entity, source, input_uri,
                                                            line_number, record, reasons

Output names derive from the raw file, so a rerun replaces its files instead of adding copies.
A file with more bad rows than the limit writes its quarantine only, as the local ingest does, and
fails the run. Glue passes arguments as `--KEY value`; `awsglue.utils.getResolvedOptions` parses
them when it is importable (on Glue), this module's parser otherwise (locally, in tests).

Foreign keys and known links (`pipelines.aws.spark`, module docstring) are read from the lake:
`curated/entity_map/` (the warehouse's links and ids, published by `encore aws etl run|deploy`)
and the parents' curated datasets. Files run parents first (artists, venues and fans, then
concerts, then what refers to concerts), so a batch's own parents count. Curated rows carry
`_source`, `_source_key` (artists, venues, concerts) and `_resolved`. At the end the job writes
`_glue/runs/<JOB_RUN_ID>.json`: per file its counts, status, outputs and curated columns, which
`encore aws etl run` records in the local catalog and run ledger.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger("encore.glue_job")

REQUIRED: Final = ("lake", "source", "dt")
OPTIONAL: Final = {"entity": "", "max_quarantine_rate": "0.5", "JOB_RUN_ID": "local"}
QUARANTINE: Final = "quarantine"
_BREAK: Final = re.compile(r"\r\n|\r|\n")
_FORMATS: Final = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".json": "json",
                   ".jsonl": "jsonl", ".ndjson": "jsonl", ".xml": "xml"}  # fmt: skip


class JobArgumentError(ValueError):
    """A missing or malformed `--KEY value` argument."""


def parse_options(argv: Sequence[str], required: Sequence[str]) -> dict[str, str]:
    """`--KEY value` (or `--KEY=value`) pairs, as Glue passes job arguments; unknown keys kept.

    Every name in `required` must be present; the optional ones default (OPTIONAL).
    """
    options: dict[str, str] = {}
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--"):
            i += 1  # Glue also passes positional bits (the script name); they are not ours
            continue
        key, eq, value = arg[2:].partition("=")
        if not eq:
            if i + 1 >= len(args) or args[i + 1].startswith("--"):
                raise JobArgumentError(f"--{key} needs a value")
            value = args[i + 1]
            i += 1
        options[key.replace("-", "_")] = value
        i += 1
    missing = [name for name in required if name not in options]
    if missing:
        raise JobArgumentError("missing job arguments: " + ", ".join(f"--{m}" for m in missing))
    return {**{k: v for k, v in OPTIONAL.items() if k not in options}, **options}


def resolved_options(argv: Sequence[str]) -> dict[str, str]:
    """The job's arguments: awsglue's parser on Glue, ours elsewhere (same `--KEY value` form)."""
    try:
        from awsglue.utils import getResolvedOptions
    except ImportError:
        return parse_options(argv, REQUIRED)
    present = [k for k in OPTIONAL if f"--{k}" in argv]  # awsglue fails on absent optional keys
    parsed = getResolvedOptions(list(argv), [*REQUIRED, *present])
    return {**OPTIONAL, **{k: str(v) for k, v in parsed.items()}}


@dataclass
class FileResult:
    """What the job did with one raw file."""

    uri: str
    entity: str
    rows: int = 0
    accepted: int = 0
    quarantined: int = 0
    status: str = "succeeded"  # succeeded, failed
    message: str = ""
    outputs: list[str] = field(default_factory=list)
    datasets: dict[str, dict[str, str]] = field(default_factory=dict)
    """The curated datasets written ("venues", "quarantine") -> their columns' DuckDB types."""


def partition_day(value: str) -> str:
    """The dt partition: a date as written, or "today"/"yesterday" (UTC) for scheduled runs."""
    from datetime import UTC, date, datetime, timedelta

    today = datetime.now(UTC).date()
    relative = {"today": today, "yesterday": today - timedelta(days=1)}
    if value in relative:
        return relative[value].isoformat()
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError as exc:
        raise JobArgumentError(f"--dt {value!r}: give YYYY-MM-DD, today or yesterday") from exc


def raw_files(spark: SparkSession, lake: str, source: str, dt: str) -> list[str]:
    """The raw files of one partition, through Hadoop's FileSystem (S3 on Glue, file:// here)."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    folder = jvm.org.apache.hadoop.fs.Path(f"{lake.rstrip('/')}/raw/source={source}/dt={dt}")
    fs = folder.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(folder):
        return []
    names = [str(s.getPath().toString()) for s in fs.listStatus(folder) if s.isFile()]
    return sorted(n for n in names if not PurePosixPath(n).name.startswith((".", "_")))


def read_raw(spark: SparkSession, uri: str) -> DataFrame:
    """One raw file as text columns plus `_line`, the line its record starts on (CSV; blank
    lines, which Spark skips, are not counted; XML, see `pipelines.aws.xml_rows`) or its
    number (JSON)."""
    from pyspark.sql import functions as F  # noqa: N812
    from pyspark.sql.types import LongType, StructField, StructType

    from pipelines.aws.spark import spark_column

    suffix = PurePosixPath(uri.removesuffix(".gz")).suffix.lower()
    kind = _FORMATS.get(suffix)
    if kind is None:
        raise JobArgumentError(f"{uri}: the Glue job reads CSV, JSON and XML; ingest it locally")
    if kind == "xml":
        from pipelines.aws.xml_rows import read_xml

        return read_xml(spark, uri)
    reader = spark.read.option("mode", "PERMISSIVE")
    if kind == "csv":
        frame = (
            reader.option("header", True).option("multiLine", True).option("escape", '"')
            .option("sep", "\t" if suffix == ".tsv" else ",").csv(uri)
        )  # fmt: skip
    else:
        json_reader = reader.option("primitivesAsString", True)
        frame = json_reader.option("multiLine", kind == "json").json(uri)
    if kind == "csv":
        # a multiLine CSV file is read by one task: a running count of the line breaks inside
        # quoted fields turns record numbers into the physical lines the records start on
        indexed = frame.rdd.coalesce(1).mapPartitions(_physical_lines)
    else:
        indexed = frame.rdd.zipWithIndex().map(lambda pair: (*pair[0], pair[1] + 1))
    schema = StructType([*frame.schema.fields, StructField("_line", LongType(), False)])
    numbered = spark.createDataFrame(indexed, schema)
    return numbered.select(*[F.col(spark_column(c)).cast("string").alias(c) for c in frame.columns],
                           "_line")  # fmt: skip


def _physical_lines(rows: Iterable[Any]) -> Iterator[tuple[Any, ...]]:
    line = 2  # the header is line 1
    for row in rows:
        yield (*row, line)
        line += 1 + sum(len(_BREAK.findall(v)) for v in row if isinstance(v, str))


ORDER: Final = ("artists", "venues", "fans", "concerts", "concert_results", "ticket_sales",
                 "concert_listings")  # fmt: skip
"""Parents before the files that refer to them."""
ENTITY_MAP_PATH: Final = "curated/entity_map"
MANIFESTS: Final = "_glue/runs"


def _reference_ids(spark: SparkSession, lake: str, parent: str, source: str) -> DataFrame:
    """The ids of a parent's curated datasets a reference from `source` may name: resolved rows,
    this source's rows, and rows curated by the local ingest (no `_resolved` column)."""
    from pyspark.sql import functions as F  # noqa: N812
    from pyspark.sql.types import BooleanType, StringType, StructField, StructType

    from pipelines.load import _PARENT_KEYS

    key = _PARENT_KEYS[parent]
    schema = StructType([StructField(key, StringType()), StructField("_source", StringType()),
                         StructField("_resolved", BooleanType())])  # fmt: skip
    rows = _read_parquet(spark, f"{lake}/curated/{parent}", schema)
    own = F.coalesce(F.col("_resolved"), F.lit(True)) | (F.col("_source") == source)
    return rows.where(own).select(key)


def _read_parquet(spark: SparkSession, folder: str, schema: Any) -> DataFrame:
    """The Parquet files under `folder` with `schema`'s columns (NULL where a file lacks one),
    or no rows when the folder does not exist."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    path = jvm.org.apache.hadoop.fs.Path(folder)
    if not path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).exists(path):
        return spark.createDataFrame([], schema)
    frame = spark.read.schema(schema).option("recursiveFileLookup", True).parquet(folder)
    return frame.select(*schema.fieldNames())


def register_lake_references(spark: SparkSession, lake: str, entity: str, source: str) -> None:
    """The reference views `entity`'s foreign keys and links are checked against."""
    from pyspark.sql.types import StringType, StructField, StructType

    from pipelines.aws.spark import parents_of, register_references

    names = ("entity_type", "source", "source_key", "canonical_id")
    schema = StructType([StructField(n, StringType()) for n in names])
    links = _read_parquet(spark, f"{lake}/{ENTITY_MAP_PATH}", schema)
    parents = {p: _reference_ids(spark, lake, p, source) for p in parents_of(entity)}
    register_references(spark, links, parents)


def _rank(entity: str) -> int:
    return ORDER.index(entity) if entity in ORDER else len(ORDER)


def run_job(spark: SparkSession, options: dict[str, str]) -> list[FileResult]:
    """Transform every raw file of the partition; see the module docstring."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F  # noqa: N812

    from core.errors import EncoreError
    from pipelines.aws.spark import run_transforms
    from pipelines.transforms.aliases import infer_entity

    lake, source, dt = options["lake"].rstrip("/"), options["source"], partition_day(options["dt"])
    limit = float(options["max_quarantine_rate"])
    results: list[FileResult] = []
    read: list[tuple[FileResult, DataFrame]] = []
    for uri in raw_files(spark, lake, source, dt):
        result = FileResult(uri, options["entity"])
        results.append(result)
        try:
            raw = read_raw(spark, uri)
            result.entity = result.entity or infer_entity([c for c in raw.columns if c != "_line"])
        except (EncoreError, JobArgumentError) as exc:
            result.status, result.message = "failed", str(exc)
            log.error("%s: %s", uri, exc)
            continue
        read.append((result, raw))
    for result, raw in sorted(read, key=lambda pair: (_rank(pair[0].entity), pair[0].uri)):
        uri = result.uri
        try:
            register_lake_references(spark, lake, result.entity, source)
            transformed = run_transforms(spark, raw, result.entity, source=source)
        except (EncoreError, JobArgumentError) as exc:
            result.status, result.message = "failed", str(exc)
            log.error("%s: %s", uri, exc)
            continue
        # both outputs come from the same classified rows: compute them once
        checked = transformed.checked.persist(StorageLevel.MEMORY_AND_DISK)
        try:
            counts = checked.agg(
                F.count(F.lit(1)).alias("rows"),
                F.sum((F.size("_reasons") > 0).cast("int")).alias("bad"),
            ).first()
            result.rows = int(counts["rows"]) if counts else 0
            result.quarantined = int(counts["bad"] or 0) if counts else 0
            result.accepted = result.rows - result.quarantined
            stem = PurePosixPath(uri).name.split(".")[0]
            quarantine = transformed.quarantined.select(
                F.lit(options["JOB_RUN_ID"]).alias("run_id"), F.lit(result.entity).alias("entity"),
                F.lit(source).alias("source"), F.lit(uri).alias("input_uri"), "*",
            )  # fmt: skip
            target = f"{lake}/curated/{QUARANTINE}/dt={dt}"
            result.outputs += _write(spark, quarantine, lake, target, stem)
            result.datasets[QUARANTINE] = _duckdb_types(quarantine)
            rate = result.quarantined / result.rows if result.rows else 0.0
            if rate > limit:
                result.status = "failed"
                result.message = (
                    f"{rate:.0%} of the rows failed validation, over the {limit:.0%} limit; "
                    "nothing was curated (see the quarantine)"
                )
                continue
            target = f"{lake}/curated/{result.entity}/dt={dt}"
            result.outputs += _write(spark, transformed.accepted, lake, target, stem)
            result.datasets[result.entity] = _duckdb_types(transformed.accepted)
        finally:
            checked.unpersist()
        log.info("%s: %d rows, %d accepted, %d quarantined", uri, result.rows, result.accepted,
                 result.quarantined)  # fmt: skip
    return results


def _duckdb_types(frame: DataFrame) -> dict[str, str]:
    """The frame's columns with their types as DuckDB names them (the local catalog's)."""
    from sqlglot import exp

    return {
        f.name: exp.DataType.build(f.dataType.simpleString(), dialect="spark").sql("duckdb")
        for f in frame.schema.fields
    }


def write_manifest(spark: SparkSession, options: dict[str, str], results: list[FileResult]) -> str:
    """Write what the run did to `<lake>/_glue/runs/<JOB_RUN_ID>.json`; return its URI."""
    import json
    from dataclasses import asdict

    lake = options["lake"].rstrip("/")
    uri = f"{lake}/{MANIFESTS}/{options['JOB_RUN_ID']}.json"
    body = {"run_id": options["JOB_RUN_ID"], "source": options["source"],
            "dt": partition_day(options["dt"]), "files": [asdict(r) for r in results]}  # fmt: skip
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    path = jvm.org.apache.hadoop.fs.Path(uri)
    stream = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).create(path, True)
    try:
        stream.write(bytearray(json.dumps(body, indent=1).encode()))
    finally:
        stream.close()
    return uri


def _write(spark: SparkSession, frame: DataFrame, lake: str, target: str, stem: str) -> list[str]:
    """Write `frame` as `<target>/<stem>-<n>.parquet`, replacing what an earlier run wrote.

    Spark names its part files itself, so they are written to a staging folder and renamed.
    """
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    hadoop_path = jvm.org.apache.hadoop.fs.Path
    staging = f"{lake}/_spark_staging/{stem}-{abs(hash(target)):x}"
    frame.write.mode("overwrite").option("compression", "zstd").parquet(staging)
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    folder = hadoop_path(target)
    fs = folder.getFileSystem(conf)
    fs.mkdirs(folder)
    for old in fs.listStatus(folder):  # an earlier run's output of the same raw file
        if old.getPath().getName().startswith(f"{stem}-"):
            fs.delete(old.getPath(), False)
    parts = sorted(
        str(s.getPath().toString()) for s in fs.listStatus(hadoop_path(staging))
        if s.getPath().getName().startswith("part-")
    )  # fmt: skip
    written = []
    for n, part in enumerate(parts):
        final = f"{target}/{stem}-{n:05d}.parquet"
        if not fs.rename(hadoop_path(part), hadoop_path(final)):
            raise OSError(f"could not move {part} to {final}")
        written.append(final)
    fs.delete(hadoop_path(staging), True)
    return written


def main(argv: Sequence[str] | None = None, spark: Any = None) -> int:
    """Entrypoint: Glue runs this file; returns non-zero (the run fails) when a file failed."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    options = resolved_options(sys.argv[1:] if argv is None else argv)
    if spark is None:
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.appName(f"encore-etl-{options['source']}").getOrCreate()
    results = run_job(spark, options)
    write_manifest(spark, options, results)
    for result in results:
        log.info("%s %s %s %s", result.status, result.entity, result.uri, result.message)
    if not results:
        log.warning("no raw files under raw/source=%s/dt=%s", options["source"],
                    partition_day(options["dt"]))  # fmt: skip
    return 1 if any(r.status == "failed" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
