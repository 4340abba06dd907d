-- Operations times in UTC, as 0003 has it for instants: naive TIMESTAMP holding UTC. The run
-- ledger and the columns filled by `DEFAULT now()` held the host's wall-clock time (now() is cast
-- to TIMESTAMP in the session's time zone), while metrics and alerts held UTC, so a host outside
-- UTC mixed the two. Rows already written are converted from the session's time zone (DuckDB's
-- TimeZone setting: the host's zone unless changed), the zone they were written in as long as
-- the warehouse stayed on one host; on a UTC host nothing changes.

UPDATE pipeline_runs SET
    started_at  = timezone('UTC', CAST(started_at AS TIMESTAMPTZ)),
    finished_at = timezone('UTC', CAST(finished_at AS TIMESTAMPTZ));
UPDATE quarantine SET quarantined_at = timezone('UTC', CAST(quarantined_at AS TIMESTAMPTZ));
UPDATE quality_flags SET flagged_at = timezone('UTC', CAST(flagged_at AS TIMESTAMPTZ));
UPDATE warehouse_builds SET built_at = timezone('UTC', CAST(built_at AS TIMESTAMPTZ));

ALTER TABLE quarantine ALTER COLUMN quarantined_at SET DEFAULT timezone('UTC', now());
ALTER TABLE quality_flags ALTER COLUMN flagged_at SET DEFAULT timezone('UTC', now());
ALTER TABLE warehouse_builds ALTER COLUMN built_at SET DEFAULT timezone('UTC', now());
ALTER TABLE pipeline_metrics ALTER COLUMN recorded_at SET DEFAULT timezone('UTC', now());
ALTER TABLE alerts ALTER COLUMN raised_at SET DEFAULT timezone('UTC', now());
