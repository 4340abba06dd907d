"""Stream jobs (requirement 7.4): produce records from files, and load consumed batches.

A stream record carries one entity record as text fields, like a row of a file:
`{"entity": "ticket_sales", "record": {...}}`. The consumer writes each batch to a JSON Lines
file and hands it to the same ingestion path as files, so stream records take the same
validation and land in the same lake and warehouse. A redelivered batch (at-least-once) is
recognised by its content and changes nothing; a record repeated within a batch (a producer's
retry) is loaded once, not quarantined as a repeated key: only records that share a key but
differ are.
"""

from __future__ import annotations

import json
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from core.errors import SourceError
from core.schemas import ENTITY_SCHEMAS
from core.settings import Settings
from pipelines.ingest import FileOutcome, ingest_files
from pipelines.sources.files import read_file
from pipelines.stream import Stream, StreamRecord
from pipelines.transforms.aliases import infer_entity, map_columns

_PRODUCE_BATCH = 5_000


def produce_file(stream: Stream, path: Path, entity: str | None = None) -> int:
    """Send every record of a file to the stream, keyed by its id; return how many were sent."""
    con = duckdb.connect()
    try:
        parsed = read_file(con, path, table="_produce")
        entity = entity or infer_entity(parsed.columns)
        if entity not in ENTITY_SCHEMAS:
            raise SourceError(f"unknown entity {entity!r}")
        key_column = next(
            (column for column, field in map_columns(parsed.columns, entity).items()
             if field == next(iter(ENTITY_SCHEMAS[entity].model_fields))),
            parsed.columns[0],
        )  # fmt: skip
        cursor = con.execute(f"SELECT * EXCLUDE (_line) FROM {parsed.table} ORDER BY _line")
        names = [d[0] for d in cursor.description or []]
        sent = 0
        while rows := cursor.fetchmany(_PRODUCE_BATCH):
            batch: list[tuple[str, dict[str, Any]]] = []
            for row in rows:
                record = dict(zip(names, row, strict=True))
                key = str(record.get(key_column) or f"{path.name}:{sent + len(batch)}")
                batch.append((key, {"entity": entity, "record": record}))
            stream.produce(batch)
            sent += len(batch)
        return sent
    finally:
        con.close()


def load_batch(
    settings: Settings, records: Sequence[StreamRecord], *, source: str
) -> list[FileOutcome]:
    """Validate and load one consumed batch through the file ingestion path."""
    by_entity: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for record in records:
        entity = record.value.get("entity")
        body = record.value.get("record")
        row = body if isinstance(body, dict) else {"_value": body}
        # the same record twice is one record delivered twice: the first copy stands for both
        by_entity[str(entity)].setdefault(json.dumps(row, sort_keys=True, default=str), row)
    with tempfile.TemporaryDirectory(prefix="encore-stream-") as tmp:
        paths = []
        for entity, rows in by_entity.items():
            first, last = records[0], records[-1]
            name = f"{entity}-{first.partition}-{first.position}-{last.position}.jsonl"
            path = Path(tmp) / name
            with path.open("w", encoding="utf-8") as fh:
                for row in rows.values():
                    fh.write(json.dumps(row, default=str) + "\n")
            paths.append((path, entity))
        outcomes = []
        for path, entity in paths:
            if entity not in ENTITY_SCHEMAS:
                raise SourceError(f"stream records of unknown entity {entity!r}; expected one of "
                                  f"{', '.join(ENTITY_SCHEMAS)}")  # fmt: skip
            # no whole-batch quality gate: a batch is not a file, its bad records are quarantined
            lenient = settings.model_copy(update={"max_quarantine_rate": 1.0})
            outcomes += ingest_files(
                lenient, [path], entity=entity, source=source, alerts_per_file=False
            )
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:  # not committed: the batch comes again, after the cause is fixed
        raise SourceError(f"a stream batch failed to load: {failed[0].message}")
    return outcomes
