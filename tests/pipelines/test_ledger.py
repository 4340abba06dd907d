"""The run ledger keeps UTC, like metrics and alerts, whatever the host's time zone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from core.warehouse import available_migrations, migrate

# A scheduled run on a host in New York (UTC-5 in November): one file loaded, one model refreshed.
_RUN_IN_NEW_YORK = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from core.settings import Settings
    from core.warehouse import reading
    from pipelines.schedule import PipelineScheduler, Refresher

    settings = Settings(data_dir=Path(sys.argv[1]))
    landing = settings.data_dir / "landing"
    landing.mkdir(parents=True)
    (landing / "artists.csv").write_text("artist_id,name,genre\\nA1,The Velvet Wolves,indie\\n")
    refresher = Refresher("noop", lambda s: None, frozenset({"artists"}))
    tick = PipelineScheduler(settings, use_apis=False, refreshers=[refresher]).tick()
    with reading(settings) as con:
        started, finished, run_id = con.execute(
            "SELECT started_at, finished_at, run_id FROM pipeline_runs "
            "WHERE pipeline = 'ingest'").fetchone()
        recorded = con.execute(
            "SELECT max(recorded_at) FROM pipeline_metrics WHERE run_id = ?", [run_id]
        ).fetchone()[0]
        zone = con.execute("SELECT current_setting('TimeZone')").fetchone()[0]
        cataloged = con.execute("SELECT max(updated_at) FROM data_catalog").fetchone()[0]
    print(json.dumps({"started": str(started), "finished": str(finished), "run_id": run_id,
                      "recorded": str(recorded), "zone": zone, "status": tick.status,
                      "cataloged": str(cataloged),
                      "lags": [r.lag_s for r in tick.refreshes]}))
""")


def test_a_host_outside_utc_writes_runs_in_utc_like_metrics(tmp_path: Path) -> None:
    env = {**os.environ, "TZ": "America/New_York", "AWS_EC2_METADATA_DISABLED": "true"}
    before = datetime.now(UTC).replace(tzinfo=None)
    done = subprocess.run(
        [sys.executable, "-c", _RUN_IN_NEW_YORK, str(tmp_path / "encore")],
        env=env, capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[2],
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["zone"] == "America/New_York" and seen["status"] == "succeeded"
    started = datetime.fromisoformat(seen["started"])
    finished = datetime.fromisoformat(seen["finished"])
    recorded = datetime.fromisoformat(seen["recorded"])
    after = datetime.now(UTC).replace(tzinfo=None)
    # local time would be 5 hours behind: these would be off by 18,000 s
    assert before - timedelta(seconds=1) <= started <= finished <= after
    assert abs((recorded - finished).total_seconds()) < 60
    assert before <= datetime.fromisoformat(seen["cataloged"]) <= after  # the catalog's too
    assert seen["run_id"].startswith(f"{started:%Y%m%dT%H}")  # run ids sort by UTC too
    [lag] = seen["lags"]
    assert 0 <= lag < 60  # the refresh came seconds after the load, not hours


def test_the_migration_moves_local_times_already_written_to_utc() -> None:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'America/New_York'")
    con.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
        "checksum VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL DEFAULT now())"
    )
    for migration in available_migrations():
        if migration.version < 4:  # a warehouse from before the ledger kept UTC
            con.execute(migration.sql)
            con.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)",
                [migration.version, migration.name, migration.checksum],
            )
    local = datetime(2026, 11, 20, 9, 30)  # 14:30 UTC
    con.execute(
        "INSERT INTO pipeline_runs (run_id, pipeline, source, started_at, finished_at, status) "
        "VALUES ('r1', 'ingest', 'files', ?, ?, 'succeeded')",
        [local, local + timedelta(seconds=5)],
    )
    con.execute("INSERT INTO warehouse_builds (source, parameters, total_rows) VALUES "
                "('generator', '{}', 1)")  # fmt: skip
    assert 4 in [m.version for m in migrate(con)]
    assert con.execute("SELECT started_at, finished_at FROM pipeline_runs").fetchone() == (
        datetime(2026, 11, 20, 14, 30),
        datetime(2026, 11, 20, 14, 30, 5),
    )
    # a build recorded by default after the migration is in UTC as well
    con.execute("INSERT INTO warehouse_builds (source, parameters, total_rows) VALUES "
                "('generator', '{}', 1)")  # fmt: skip
    newest = con.execute("SELECT max(built_at) FROM warehouse_builds").fetchone()[0]
    assert abs(newest - datetime.now(UTC).replace(tzinfo=None)) < timedelta(minutes=5)
