-- Operations: the run ledger, quarantine, entity map (lineage), data catalog, quality flags,
-- metrics and alerts. Pipelines write these; dashboards and `encore pipeline status` read them.

CREATE TABLE pipeline_runs (
    run_id        VARCHAR PRIMARY KEY,
    pipeline      VARCHAR NOT NULL,              -- e.g. 'ingest', 'stream', 'api:ticketmaster'
    source        VARCHAR NOT NULL,              -- where the records came from
    entity        VARCHAR,                       -- artists, venues, ... (NULL: several)
    inputs        JSON NOT NULL DEFAULT '[]',    -- [{"uri": ..., "sha256": ..., "bytes": ...}]
    started_at    TIMESTAMP NOT NULL,
    finished_at   TIMESTAMP,
    status        VARCHAR NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'skipped')),
    attempts      INTEGER NOT NULL DEFAULT 1,
    records_in    BIGINT NOT NULL DEFAULT 0,
    accepted      BIGINT NOT NULL DEFAULT 0,
    quarantined   BIGINT NOT NULL DEFAULT 0,
    inserted      BIGINT NOT NULL DEFAULT 0,
    updated       BIGINT NOT NULL DEFAULT 0,
    error         VARCHAR
);

-- Rows that failed validation, kept whole (as text) with every reason, never dropped.
CREATE TABLE quarantine (
    run_id      VARCHAR NOT NULL,
    entity      VARCHAR NOT NULL,
    source      VARCHAR NOT NULL,
    input_uri   VARCHAR,
    line_number BIGINT,                          -- 1-based line in the input file, when known
    record      JSON NOT NULL,
    reasons     VARCHAR[] NOT NULL,
    quarantined_at TIMESTAMP NOT NULL DEFAULT now()
);

-- Every source record's link to its canonical entity (entity resolution, lineage 5.5).
CREATE TABLE entity_map (
    entity_type   VARCHAR NOT NULL CHECK (entity_type IN ('artist', 'venue', 'concert')),
    source        VARCHAR NOT NULL,
    source_key    VARCHAR NOT NULL,
    canonical_id  VARCHAR NOT NULL,
    match_score   DOUBLE,                        -- NULL: exact key match
    run_id        VARCHAR,
    PRIMARY KEY (entity_type, source, source_key)
);

CREATE TABLE data_catalog (
    dataset      VARCHAR PRIMARY KEY,            -- e.g. 'raw/ticketmaster/events', 'warehouse/artists'
    zone         VARCHAR NOT NULL CHECK (zone IN ('raw', 'curated', 'warehouse')),
    location     VARCHAR NOT NULL,
    format       VARCHAR NOT NULL,
    schema       JSON NOT NULL,
    partitions   VARCHAR[] NOT NULL DEFAULT [],
    row_count    BIGINT NOT NULL DEFAULT 0,
    updated_at   TIMESTAMP NOT NULL
);

CREATE TABLE quality_flags (
    run_id      VARCHAR NOT NULL,
    entity      VARCHAR NOT NULL,
    record_key  VARCHAR NOT NULL,
    check_name  VARCHAR NOT NULL,                -- completeness, validity, uniqueness, ...
    severity    VARCHAR NOT NULL CHECK (severity IN ('info', 'warning', 'error')),
    detail      VARCHAR,
    flagged_at  TIMESTAMP NOT NULL DEFAULT now()
);

CREATE TABLE pipeline_metrics (
    run_id      VARCHAR,
    name        VARCHAR NOT NULL,                -- e.g. 'records_in', 'duration_s', 'quarantine_rate'
    value       DOUBLE NOT NULL,
    unit        VARCHAR NOT NULL DEFAULT 'count',
    dimensions  JSON NOT NULL DEFAULT '{}',
    recorded_at TIMESTAMP NOT NULL DEFAULT now()
);

CREATE TABLE alerts (
    alert_id      VARCHAR PRIMARY KEY,
    raised_at     TIMESTAMP NOT NULL DEFAULT now(),
    severity      VARCHAR NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    source        VARCHAR NOT NULL,              -- the pipeline, model or check that raised it
    message       VARCHAR NOT NULL,
    run_id        VARCHAR,
    details       JSON NOT NULL DEFAULT '{}',
    acknowledged  BOOLEAN NOT NULL DEFAULT false
);
