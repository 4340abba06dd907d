"""Entity-resolution benchmark: pairwise precision, recall and F1 against generated ground truth.

Replays a dirty output folder (`encore generate --dirty`) as ingestion would: each source's
artists, venues and concerts in turn are validated, foreign keys translated to canonical ids,
resolved with `resolve` (the ingestion's code path), linked in `entity_map` and merged into the
canonical tables. Then every accepted record's canonical id is compared with the true entity.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Final

import duckdb

from core.schemas import ENTITY_SCHEMAS
from core.warehouse import migrate
from pipelines.sinks.warehouse import upsert
from pipelines.transforms.normalize import FIELD_NORMALISERS
from pipelines.transforms.resolve import RESOLUTIONS, record_links, resolve, translate_keys
from pipelines.transforms.validate import validation_sql

log = logging.getLogger(__name__)

SOURCES: Final = ("encore_crm", "ticketmaster")
ENTITIES: Final = ("artists", "venues", "concerts")
_FOREIGN_KEYS: Final = {"artist_id": "artists", "venue_id": "venues"}


def bench_dedup(data_dir: Path, *, sources: tuple[str, ...] = SOURCES) -> dict[str, Any]:
    """Resolve the folder's entities source by source; per entity: records, P/R/F1, seconds."""
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        migrate(con)
        seconds = dict.fromkeys(ENTITIES, 0.0)
        for source in sources:
            for entity in ENTITIES:
                path = data_dir / source / f"{entity}.csv"
                if path.exists():
                    seconds[entity] += _ingest(con, path, entity, source)
        truth = data_dir / "ground_truth" / "entities.csv"
        con.execute(
            f"CREATE TEMP TABLE _truth AS SELECT * FROM read_csv('{truth}', all_varchar=true)"
        )
        report: dict[str, Any] = {}
        for entity in ENTITIES:
            scores = _pairwise(con, RESOLUTIONS[entity].entity_type)
            records = scores["records"]
            report[entity] = {
                **scores,
                "seconds": round(seconds[entity], 3),
                "records_per_s": round(records / seconds[entity]) if seconds[entity] else None,
            }
        return report
    finally:
        con.close()


def _ingest(con: duckdb.DuckDBPyConnection, path: Path, entity: str, source: str) -> float:
    """Stage one file as ingestion does, resolve and load it; return the seconds resolution took."""
    schema = ENTITY_SCHEMAS[entity]
    spec = RESOLUTIONS[entity]
    fields = list(schema.model_fields)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _er_raw AS "
        f"SELECT * FROM read_csv('{path}', all_varchar=true)"
    )
    columns = [str(d[0]) for d in con.execute("SELECT * FROM _er_raw LIMIT 0").description]
    present = [c for c in columns if c in fields]
    projections = ", ".join(f'{_normalised(c)} AS "{c}"' for c in present)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _er_mapped AS SELECT {projections} FROM _er_raw")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _er_valid AS "
        + validation_sql(schema, "_er_mapped", present, keep=[])
    )
    translated = ", ".join(
        f"{translate_keys(con, '_er_valid', c, parent, source)} AS {c}"
        for c, parent in _FOREIGN_KEYS.items()
        if entity == "concerts"
    )
    replace = f"REPLACE ({translated})" if translated else ""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _er_clean AS SELECT * EXCLUDE (_reasons) {replace} "
        "FROM _er_valid WHERE len(_reasons) = 0"
    )
    if entity == "concerts":  # orphans are quarantined by ingestion
        con.execute("DELETE FROM _er_clean WHERE artist_id IS NULL OR venue_id IS NULL")
    started = time.perf_counter()
    resolved = resolve(con, entity, source, "_er_clean")
    record_links(con, entity, source, resolved, f"bench-{source}")
    elapsed = time.perf_counter() - started
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _er_canonical AS SELECT * EXCLUDE ({spec.id_column}), "
        f"_canonical_id AS {spec.id_column} FROM {resolved} WHERE _representative"
    )
    upsert(con, spec.table, "_er_canonical", spec.id_column, fields)
    log.info("%s/%s resolved in %.2fs", source, entity, elapsed)
    return elapsed


def _normalised(column: str) -> str:
    normaliser = FIELD_NORMALISERS.get(column)
    return normaliser(f'"{column}"') if normaliser else f'"{column}"'


def _pairwise(con: duckdb.DuckDBPyConnection, entity_type: str) -> dict[str, Any]:
    """Pairwise precision and recall of the linked clusters against the true entities."""
    row = con.execute(
        """
        WITH j AS (
            SELECT m.canonical_id AS predicted, t.canonical_id AS truth
            FROM entity_map m
            JOIN _truth t USING (entity_type, source, source_key)
            WHERE m.entity_type = $entity_type
        ),
        both_ AS (SELECT count(*) AS n FROM j GROUP BY predicted, truth),
        pred AS (SELECT count(*) AS n FROM j GROUP BY predicted),
        true_ AS (SELECT count(*) AS n FROM j GROUP BY truth)
        SELECT (SELECT count(*) FROM j),
               (SELECT sum(n * (n - 1) // 2) FROM both_),
               (SELECT sum(n * (n - 1) // 2) FROM pred),
               (SELECT sum(n * (n - 1) // 2) FROM true_)
        """,
        {"entity_type": entity_type},
    ).fetchone()
    records, tp, predicted, actual = (int(v or 0) for v in row) if row else (0, 0, 0, 0)
    precision = tp / predicted if predicted else 1.0
    recall = tp / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "records": records,
        "true_pairs": actual,
        "predicted_pairs": predicted,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
    }
