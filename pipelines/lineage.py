"""Lineage of one canonical entity: its source records, and the Glue runs over the same raw files.

    source record (entity_map) -> ingest run -> raw file in the lake
                                                 raw file -> Glue run -> curated dataset -> Redshift

`entity_map` links each source record to the canonical id, with the run that linked it and so
the raw file that run landed. `encore aws etl run` records one `glue_etl` run per raw file the
Glue job read (its raw URI, the job run id and the curated objects it wrote); a Glue run is part
of an entity's lineage when it read one of those raw files for the same entity. Its curated rows
reach Redshift through `encore aws sync --warehouse`, into `<redshift schema>.<entity>`.
Raw URIs are compared as written by either side: Hadoop's `s3a://`/`s3n://` are `s3://`, and a
`file:` URI is its path.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import duckdb

    from core.settings import Settings

GLUE_PIPELINE: Final = "glue_etl"  # pipelines.aws.glue_etl.PIPELINE (that module loads boto3)
KINDS: Final = {"artists": "artist", "venues": "venue", "concerts": "concert"}


@dataclass(frozen=True)
class SourceRecord:
    """One source record linked to the entity, with the run that linked it."""

    source: str
    source_key: str
    match_score: float | None  # None: the record founded the entity
    run_id: str | None
    started_at: datetime | None
    raw_uri: str | None


@dataclass(frozen=True)
class GlueStep:
    """A Glue run that read a raw file of the entity's lineage, and where its rows went."""

    raw_uri: str
    glue_run_id: str
    run_id: str  # the ledger's run for this file
    status: str
    started_at: datetime | None
    curated: list[str] = field(default_factory=list)  # the entity's curated objects it wrote
    redshift_table: str = ""


def same_file(uri: str) -> str:
    """A raw URI in one spelling: `s3://bucket/key` or a plain path."""
    uri = re.sub(r"^s3[an]://", "s3://", uri)
    if uri.startswith("file:"):
        uri = "/" + uri.removeprefix("file:").lstrip("/")
    return uri


def source_records(
    con: duckdb.DuckDBPyConnection, entity: str, entity_id: str
) -> list[SourceRecord]:
    """Every source record `entity_map` links to the entity, oldest run first."""
    rows = con.execute(
        """SELECT m.source, m.source_key, m.match_score, m.run_id, r.started_at,
                  r.inputs->0->>'raw_uri'
           FROM entity_map m LEFT JOIN pipeline_runs r USING (run_id)
           WHERE m.entity_type = ? AND m.canonical_id = ? ORDER BY r.started_at""",
        [_kind(entity), entity_id],
    ).fetchall()
    return [SourceRecord(*row) for row in rows]


def glue_steps(
    con: duckdb.DuckDBPyConnection, entity: str, records: list[SourceRecord], redshift_schema: str
) -> list[GlueStep]:
    """The Glue runs that read one of the records' raw files as `entity`, oldest first."""
    raw_files = {same_file(r.raw_uri) for r in records if r.raw_uri}
    if not raw_files:
        return []
    rows = con.execute(
        "SELECT run_id, status, started_at, inputs->0 FROM pipeline_runs "
        "WHERE pipeline = ? AND entity = ? ORDER BY started_at, run_id",
        [GLUE_PIPELINE, entity],
    ).fetchall()
    steps = []
    for run_id, status, started_at, first_input in rows:
        read: dict[str, Any] = json.loads(first_input) if first_input else {}
        raw_uri = str(read.get("raw_uri", ""))
        if same_file(raw_uri) not in raw_files:
            continue
        curated = [o for o in read.get("outputs", []) if f"/curated/{entity}/" in o]
        loaded = f"{redshift_schema}.{entity}" if curated else ""
        steps.append(GlueStep(raw_uri, str(read.get("glue_run_id", "")), run_id, status,
                              started_at, curated, loaded))  # fmt: skip
    return steps


def _kind(entity: str) -> str:
    from core.errors import ConfigError

    if entity not in KINDS:
        raise ConfigError(f"lineage covers {', '.join(KINDS)}; got {entity!r}")
    return KINDS[entity]


@dataclass(frozen=True)
class TrainedModel:
    """A model version trained on data that includes the entity's records (lineage's last hop)."""

    name: str
    version: str
    status: str
    trained_at: datetime
    last_load: str  # the latest load run its data had seen


def models_trained_on(settings: Settings, records: list[SourceRecord]) -> list[TrainedModel]:
    """The registered model versions whose training data had seen every load of `records`: the
    latest load in their snapshot finished after the records' last run started."""
    from models.registry import ModelRegistry  # the registry reads model files: only here

    started = [r.started_at for r in records if r.started_at is not None]
    if not started:
        return []
    latest = max(started)
    registry = ModelRegistry(settings)
    found = []
    for name in registry.models():
        for version in registry.versions(name):
            load = version.data_snapshot.get("last_load") or {}
            finished = load.get("finished_at")
            if finished and datetime.fromisoformat(str(finished)) >= latest:
                found.append(TrainedModel(name, version.version, version.status,
                                          version.trained_at, str(load.get("run_id"))))  # fmt: skip
    return found
