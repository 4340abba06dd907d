"""The Glue Data Catalog as the catalog at scale (requirement 7.2).

The local catalog (`data_catalog`, written by pipelines/catalog.py on every load) is the source:
each curated dataset on the S3 lake becomes a Glue table in one database, with its columns, the
`dt` partition key, its S3 location and one Glue partition per `dt=` folder the loads wrote.
Syncing is idempotent: a table is created when missing, updated when it differs, left alone
otherwise; partitions are only ever added.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from sqlglot import exp
from sqlglot.errors import ParseError

from core.aws import SyncReport, aws_call, client, error_code, require
from core.errors import ConfigError
from core.settings import Settings
from core.warehouse import reading
from pipelines.catalog import catalog

log = logging.getLogger(__name__)

PARQUET_STORAGE: Final = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    },
}
_HIVE_TYPES: Final = re.compile(
    r"^(string|bigint|int|smallint|tinyint|double|float|boolean|date|timestamp|binary"
    r"|decimal\(\d+,\d+\))$"
)
_BATCH: Final = 100  # batch_create_partition's limit


@dataclass(frozen=True)
class CuratedDataset:
    """One curated dataset of the local catalog, as Glue will see it."""

    table: str
    location: str  # s3://bucket/curated/<dataset>
    columns: dict[str, str]  # name -> DuckDB type, in file order
    partitions: tuple[str, ...]  # "dt=YYYY-MM-DD"
    rows: int


def glue_type(duckdb_type: str) -> str:
    """The Glue (Hive) type of a DuckDB column type; types Athena cannot read become string."""
    try:
        hive = exp.DataType.build(duckdb_type, dialect="duckdb").sql("hive")
    except (ParseError, ValueError):
        return "string"
    hive = hive.lower().replace(" ", "")
    return hive if _HIVE_TYPES.match(hive) else "string"


def curated_datasets(
    entries: Iterable[Mapping[str, Any]],
) -> tuple[list[CuratedDataset], list[str]]:
    """The catalog entries Glue can register (curated, on S3) and the others with the reason."""
    datasets: list[CuratedDataset] = []
    skipped: list[str] = []
    for entry in entries:
        if entry["zone"] != "curated":
            continue
        name = str(entry["dataset"])
        location = str(entry["location"]).rstrip("/")
        if not location.startswith("s3://"):
            skipped.append(f"{name}: stored at {location}, not on S3 (set ENCORE_LAKE_BUCKET)")
            continue
        schema = entry["schema"]
        columns = json.loads(schema) if isinstance(schema, str) else dict(schema)
        datasets.append(
            CuratedDataset(
                table=name.split("/", 1)[-1],
                location=location,
                columns={str(k): str(v) for k, v in columns.items()},
                partitions=tuple(sorted(str(p) for p in entry["partitions"] or ())),
                rows=int(entry["row_count"]),
            )
        )
    return datasets, skipped


def table_input(dataset: CuratedDataset) -> dict[str, Any]:
    """The Glue TableInput of a curated dataset (Parquet, partitioned by dt)."""
    return {
        "Name": dataset.table,
        "Description": "Encore curated dataset (Parquet written by each ingest run)",
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {
            "classification": "parquet",
            "recordCount": str(dataset.rows),
            "encore.source": "data_catalog",
        },
        "PartitionKeys": [{"Name": "dt", "Type": "string"}],
        "StorageDescriptor": {
            "Columns": [{"Name": c, "Type": glue_type(t)} for c, t in dataset.columns.items()],
            "Location": f"{dataset.location}/",
            **PARQUET_STORAGE,
        },
    }


def _partition_input(dataset: CuratedDataset, partition: str) -> dict[str, Any]:
    value = partition.split("=", 1)[-1]
    descriptor = table_input(dataset)["StorageDescriptor"]
    return {
        "Values": [value],
        "StorageDescriptor": {**descriptor, "Location": f"{dataset.location}/{partition}/"},
    }


def merged_columns(
    current: list[dict[str, Any]], wanted: list[dict[str, str]]
) -> tuple[list[dict[str, str]], list[str]]:
    """The table's columns after a sync, and the names newly added.

    The dataset's columns (in its file order, with its types) come first; columns the table
    has but the newest files lack (e.g. dropped by a later schema) are kept after them, so the
    older partitions that hold them stay readable. A table created before a migration added
    columns (0003: concerts.currency, starts_at; venues.timezone) gains them here.
    """
    names = {c["Name"] for c in wanted}
    known = {str(c.get("Name")) for c in current}
    kept = [{"Name": str(c["Name"]), "Type": str(c["Type"])} for c in current
            if c.get("Name") not in names]  # fmt: skip
    return [*wanted, *kept], [c["Name"] for c in wanted if c["Name"] not in known]


def _contains(actual: Any, desired: Any) -> bool:
    """Whether `actual` (as Glue returns it) holds everything `desired` (what we send) says."""
    if isinstance(desired, dict):
        return isinstance(actual, dict) and all(
            _contains(actual.get(k), v) for k, v in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(desired)
            and all(_contains(a, d) for a, d in zip(actual, desired, strict=True))
        )
    return bool(actual == desired)


class GlueCatalog:
    """Registers curated datasets as tables of one Glue database."""

    def __init__(self, client: Any, database: str, *, catalog_id: str | None = None) -> None:
        self.client = client
        self.database = database
        self._catalog = {"CatalogId": catalog_id} if catalog_id else {}

    def sync(
        self, datasets: Iterable[CuratedDataset], report: SyncReport | None = None
    ) -> SyncReport:
        """Create or update the database, each dataset's table and its missing partitions."""
        report = report or SyncReport("catalog")
        self._ensure_database(report)
        for dataset in datasets:
            self._sync_table(dataset, report)
            self._add_partitions(dataset, report)
        return report

    def _ensure_database(self, report: SyncReport) -> None:
        action = f"read Glue database {self.database}"
        if _found(action, self.client.get_database, Name=self.database, **self._catalog):
            return
        with aws_call(f"create Glue database {self.database}", database=self.database):
            self.client.create_database(
                DatabaseInput={"Name": self.database, "Description": "Encore lake (curated zone)"},
                **self._catalog,
            )
        report.created.append(f"database {self.database}")

    def _sync_table(self, dataset: CuratedDataset, report: SyncReport) -> None:
        wanted = table_input(dataset)
        name = f"table {self.database}.{dataset.table}"
        found = _found(
            f"read Glue {name}",
            self.client.get_table,
            DatabaseName=self.database,
            Name=dataset.table,
            **self._catalog,
        )
        if found is None:
            with aws_call(f"create Glue {name}", table=dataset.table):
                self.client.create_table(
                    DatabaseName=self.database, TableInput=wanted, **self._catalog
                )
            report.created.append(name)
            return
        current = found["Table"]
        columns, added = merged_columns(
            current.get("StorageDescriptor", {}).get("Columns", []),
            wanted["StorageDescriptor"]["Columns"],
        )
        wanted["StorageDescriptor"]["Columns"] = columns
        if _contains(current, wanted):
            report.skipped.append(f"{name}: up to date")
            return
        with aws_call(f"update Glue {name}", table=dataset.table):
            self.client.update_table(DatabaseName=self.database, TableInput=wanted, **self._catalog)
        report.updated.append(f"{name} (columns {', '.join(added)} added)" if added else name)

    def partitions(self, table: str) -> set[str]:
        """The dt values registered for `table`."""
        found: set[str] = set()
        with aws_call(f"list partitions of Glue table {self.database}.{table}", table=table):
            pages = self.client.get_paginator("get_partitions").paginate(
                DatabaseName=self.database, TableName=table, **self._catalog
            )
            for page in pages:
                found.update(p["Values"][0] for p in page["Partitions"])
        return found

    def _add_partitions(self, dataset: CuratedDataset, report: SyncReport) -> None:
        known = self.partitions(dataset.table)
        missing = [p for p in dataset.partitions if p.split("=", 1)[-1] not in known]
        for start in range(0, len(missing), _BATCH):
            chunk = missing[start : start + _BATCH]
            with aws_call(f"add partitions to {dataset.table}", partitions=chunk):
                reply = self.client.batch_create_partition(
                    DatabaseName=self.database,
                    TableName=dataset.table,
                    PartitionInputList=[_partition_input(dataset, p) for p in chunk],
                    **self._catalog,
                )
            failed = {
                e["PartitionValues"][0]: e["ErrorDetail"].get("ErrorMessage", "")
                for e in reply.get("Errors", [])
            }
            for partition in chunk:
                value = partition.split("=", 1)[-1]
                if value in failed:
                    report.skipped.append(f"{dataset.table}/{partition}: {failed[value]}")
                else:
                    report.created.append(f"partition {dataset.table}/{partition}")


def _found(action: str, call: Any, **kwargs: Any) -> dict[str, Any] | None:
    """The reply of a Glue get_* call, or None when the entity does not exist."""
    from botocore.exceptions import ClientError

    with aws_call(action, **kwargs):
        try:
            return dict(call(**kwargs))
        except ClientError as exc:
            if error_code(exc) == "EntityNotFoundException":
                return None
            raise


def sync_catalog(settings: Settings, *, glue: Any = None) -> SyncReport:
    """Register the warehouse's curated lake datasets in the Glue database of the settings."""
    require(settings, "lake_bucket")
    if not settings.warehouse_file.exists():
        raise ConfigError(
            f"no warehouse at {settings.warehouse_file}; ingest data first (encore ingest)"
        )
    with reading(settings) as con:
        entries = catalog(con)
    datasets, skipped = curated_datasets(entries)
    report = SyncReport("catalog", skipped=skipped)
    if not datasets:
        report.skipped.append("no curated datasets on S3 in data_catalog yet")
        return report
    return GlueCatalog(glue or client("glue", settings), settings.glue_database).sync(
        datasets, report
    )
