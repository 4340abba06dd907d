"""The Redshift loader.

(a) `load_warehouse` runs for real on the PostgreSQL server the query tests start: the DDL, the
    bucket replacement, the merge and the load log are the same statements transpiled to
    "postgres" instead of "redshift", and each COPY (Redshift only) is replaced by inserting the
    same Parquet rows, read from the moto S3 lake (the warehouse's changed buckets and the Glue
    job's objects). The Redshift text itself is checked by parsing it with sqlglot's Redshift
    dialect.
(b) The Data API polling against moto's server, whose statements never finish: the timeout
    cancels the statement and names it.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot
from sqlglot import exp

from core.errors import ConfigError, WarehouseError
from core.settings import Settings
from pipelines.aws.redshift import (
    DataApiExecutor,
    DbApiExecutor,
    LoadPlan,
    SyncLock,
    load_warehouse,
    plans,
)
from pipelines.catalog import catalog
from pipelines.ingest import ingest_files
from tests.conftest import query_warehouse

from .conftest import aws_client, write_csv

ROLE = "arn:aws:iam::123456789012:role/encore-redshift-copy"


def _plans(settings: Settings, schema: str, dialect: str) -> dict[str, LoadPlan]:
    con = duckdb.connect(str(settings.warehouse_file), read_only=True)
    try:
        found, skipped = plans(catalog(con), schema, dialect)
    finally:
        con.close()
    assert skipped == []
    return {p.table: p for p in found}


class CopyFromLake:
    """A psycopg connection whose cursors run Redshift's COPY by inserting the Parquet rows.

    Every other statement goes to PostgreSQL as load_warehouse generated it.
    """

    COPY = re.compile(r"^COPY (\w+) FROM '(s3://[^']+)' IAM_ROLE '[^']+' FORMAT AS PARQUET$")

    def __init__(self, connection: Any, s3: Any) -> None:
        self.connection = connection
        self.s3 = s3
        self.copied: list[str] = []
        self.rows: dict[str, int] = {}  # rows copied per object
        self.fail_on = ""  # a statement prefix that fails, to check the rollback

    @property
    def copied_rows(self) -> int:
        """Rows copied from the warehouse's exports (not the bucket lists, not Glue's)."""
        return sum(n for uri, n in self.rows.items() if uri.endswith(".rows.parquet"))

    def cursor(self) -> Any:
        import psycopg

        outer = self
        cursor = self.connection.cursor()

        class Cursor:
            def execute(self, sql: str) -> None:
                if outer.fail_on and sql.startswith(outer.fail_on):
                    raise psycopg.errors.DiskFull(f"out of space (test) at: {sql[:80]}")
                if match := outer.COPY.match(sql):
                    outer.copy(cursor, match.group(1), match.group(2))
                else:
                    cursor.execute(sql)

            def __getattr__(self, name: str) -> Any:
                return getattr(cursor, name)

        return Cursor()

    def copy(self, cursor: Any, table: str, uri: str) -> None:
        bucket, key = uri.removeprefix("s3://").split("/", 1)
        body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        parquet = pq.read_table(io.BytesIO(body))
        names = parquet.column_names  # COPY ... FORMAT AS PARQUET maps columns by position
        cursor.executemany(
            f"INSERT INTO {table} VALUES ({', '.join(['%s'] * len(names))})",
            [tuple(row[n] for n in names) for row in parquet.to_pylist()],
        )
        self.copied.append(uri)
        self.rows[uri] = len(parquet)

    def commit(self) -> None:
        self.connection.commit()

    def rollback(self) -> None:
        self.connection.rollback()


def _rows(pg: Any, sql: str) -> list[tuple[Any, ...]]:
    with pg.cursor() as cur:
        cur.execute(sql)
        return list(cur.fetchall())


def _settings(ingested: Settings, prefix: str) -> Settings:
    """Settings loading into a Redshift schema of the test's own."""
    return ingested.model_copy(
        update={"redshift_workgroup": "unused", "redshift_iam_role": ROLE,
                "redshift_schema": f"{prefix}_{ingested.glue_database.split('_')[-1]}"}
    )  # fmt: skip


def test_a_sync_copies_the_changed_buckets_only_and_deletes_reach_redshift(
    fresh_ingested: Settings,
    pg_dsn: str,
    tmp_path: Path,
) -> None:
    import psycopg

    from core.warehouse import writing

    settings = _settings(fresh_ingested, "encore")
    schema = settings.redshift_schema
    s3 = aws_client("s3", settings)
    fans_columns = "fan_id, city, state, country, age_band, signup_date, favorite_genre"
    fans_sql = f"SELECT {fans_columns} FROM fans ORDER BY fan_id"
    with psycopg.connect(pg_dsn) as pg:
        lake = CopyFromLake(pg, s3)
        executor = DbApiExecutor(lake, errors=psycopg.Error)

        def load() -> Any:
            lake.rows.clear()
            return load_warehouse(settings, executor=executor, s3=s3, dialect="postgres")

        def same_as_warehouse() -> None:
            assert _rows(pg, fans_sql.replace("FROM fans", f"FROM {schema}.fans")) == \
                query_warehouse(settings, fans_sql)  # fmt: skip
            artists = f"SELECT artist_id, name, popularity FROM {schema}.artists ORDER BY 1"
            assert _rows(pg, artists) == [("A1", "The Lanterns", 71), ("A2", "Mira Sol", 88)]

        first = load()  # never synced: each table whole
        assert first.updated == [
            f"{schema}.artists: every bucket replaced, 2 row(s) copied",
            f"{schema}.fans: every bucket replaced, 2 row(s) copied",
        ]
        assert lake.copied_rows == 4
        same_as_warehouse()
        origins = _rows(pg, f"SELECT DISTINCT _origin FROM {schema}.fans")
        assert origins == [("warehouse",)]

        # nothing changed: nothing copied
        second = load()
        assert second.updated == [] and lake.rows == {}
        assert f"{schema}.fans: unchanged since the last sync (2 bucket(s))" in second.skipped
        same_as_warehouse()

        # a later run changes F1 and adds F3: their buckets only (F1, F2, F3: e1.., fe.., 4b..)
        update = "fan_id,city,state,country\nF1,Dallas,TX,US\nF3,Reno,NV,US\n"
        more = write_csv(tmp_path / "more", "fans.csv", update)
        assert ingest_files(settings, [more])[0].status == "succeeded"
        third = load()
        assert third.updated == [f"{schema}.fans: 2 of 3 bucket(s) replaced, 2 row(s) copied"]
        assert lake.copied_rows == 2  # not F2
        cities = dict(_rows(pg, f"SELECT fan_id, city FROM {schema}.fans"))
        assert cities == {"F1": "Dallas", "F2": "Boston", "F3": "Reno"}
        same_as_warehouse()

        # a row deleted from the warehouse leaves Redshift too; its emptied bucket copies nothing
        with writing(settings) as duck:
            duck.execute("DELETE FROM fans WHERE fan_id = 'F2'")
        fourth = load()
        assert fourth.updated == [f"{schema}.fans: 1 of 3 bucket(s) replaced, 0 row(s) copied"]
        assert lake.rows == {} or lake.copied_rows == 0
        same_as_warehouse()
        buckets = _rows(pg, f"SELECT bucket, row_count FROM {schema}.encore_sync_state "
                            "WHERE table_name = 'fans' ORDER BY 1")  # fmt: skip
        assert buckets == [("4", 1), ("e", 1)]  # F3, F1

        # a table emptied in the warehouse is emptied in Redshift
        with writing(settings) as duck:
            duck.execute("DELETE FROM fans")
        load()
        assert _rows(pg, f"SELECT count(*) FROM {schema}.fans") == [(0,)]
        assert load().updated == []  # and stays in step
    # the sync's files are deleted once merged
    listed = s3.list_objects_v2(Bucket=settings.lake_bucket, Prefix="_redshift/")
    assert listed.get("KeyCount", 0) == 0


def test_a_sync_that_fails_half_way_leaves_redshift_as_it_was(
    fresh_ingested: Settings, pg_dsn: str
) -> None:
    import psycopg

    from core.warehouse import writing

    settings = _settings(fresh_ingested, "atomic")
    schema = settings.redshift_schema
    s3 = aws_client("s3", settings)
    with psycopg.connect(pg_dsn) as pg:
        lake = CopyFromLake(pg, s3)
        executor = DbApiExecutor(lake, errors=psycopg.Error)
        load_warehouse(settings, executor=executor, s3=s3, dialect="postgres")
        state_sql = f"SELECT * FROM {schema}.encore_sync_state ORDER BY table_name, bucket"
        before = (_rows(pg, f"SELECT * FROM {schema}.fans ORDER BY 1"), _rows(pg, state_sql))
        with writing(settings) as duck:
            duck.execute("DELETE FROM fans WHERE fan_id = 'F2'")
            duck.execute("UPDATE fans SET city = 'Waco' WHERE fan_id = 'F1'")

        # the last statement of the replacement fails: its deletes and inserts are undone
        lake.fail_on = f"INSERT INTO {schema}.encore_sync_state"
        with pytest.raises(WarehouseError, match=r"replace changed buckets of .*out of space"):
            load_warehouse(settings, executor=executor, s3=s3, dialect="postgres")
        after = (_rows(pg, f"SELECT * FROM {schema}.fans ORDER BY 1"), _rows(pg, state_sql))
        assert after == before

        lake.fail_on = ""  # the next sync finishes the job
        report = load_warehouse(settings, executor=executor, s3=s3, dialect="postgres")
        assert report.updated == [f"{schema}.fans: 2 of 2 bucket(s) replaced, 1 row(s) copied"]
        assert _rows(pg, f"SELECT fan_id, city FROM {schema}.fans") == [("F1", "Waco")]


def test_rows_sharing_a_key_in_one_file_keep_the_last_line(pg_dsn: str) -> None:
    import psycopg

    plan = LoadPlan(
        "fans", "dedup_check", "fan_id", {"fan_id": "VARCHAR", "city": "VARCHAR"},
        {"fan_id": "VARCHAR", "city": "VARCHAR", "_line": "BIGINT"}, "postgres",
    )  # fmt: skip
    with psycopg.connect(pg_dsn) as pg:
        executor = DbApiExecutor(pg, errors=psycopg.Error)
        executor.run([*plan.ddl(), plan.add_origin()], label="ddl")
        staged = "INSERT INTO stage_fans VALUES ('F1', 'Austin', 2), ('F1', 'Houston', 5), " \
                 "('F1', 'Dallas', 3), ('F2', 'Boston', 4)"  # fmt: skip
        executor.run([plan.create_stage(), staged, *plan.merge()], label="merge")
        assert _rows(pg, "SELECT fan_id, city FROM dedup_check.fans ORDER BY 1") == [
            ("F1", "Houston"), ("F2", "Boston")
        ]  # fmt: skip


def test_records_the_glue_job_left_unresolved_are_not_merged(pg_dsn: str) -> None:
    import psycopg

    plan = LoadPlan(
        "artists", "resolved_check", "artist_id", {"artist_id": "VARCHAR", "name": "VARCHAR"},
        {"artist_id": "VARCHAR", "name": "VARCHAR", "_line": "BIGINT", "_resolved": "BOOLEAN"},
        "postgres",
    )  # fmt: skip
    with psycopg.connect(pg_dsn) as pg:
        executor = DbApiExecutor(pg, errors=psycopg.Error)
        executor.run([*plan.ddl(), plan.add_origin()], label="ddl")
        # A1 is linked to its canonical entity; tm-99 is a source id entity_map does not know
        staged = "INSERT INTO stage_artists VALUES ('A1', 'Wolves', 2, TRUE), " \
                 "('tm-99', 'The Wolves', 3, FALSE)"  # fmt: skip
        executor.run([plan.create_stage(), staged, *plan.merge()], label="merge")
        assert _rows(pg, "SELECT artist_id FROM resolved_check.artists") == [("A1",)]


def test_the_redshift_sql_is_redshift(ingested: Settings) -> None:
    plan = _plans(ingested, "analytics", "redshift")["fans"]
    schema_ddl, table_ddl, _, state_ddl = plan.ddl()
    assert schema_ddl == "CREATE SCHEMA IF NOT EXISTS analytics"
    assert table_ddl.startswith("CREATE TABLE IF NOT EXISTS analytics.fans (fan_id VARCHAR(MAX)")
    assert "signup_date DATE" in table_ddl and table_ddl.endswith("PRIMARY KEY (fan_id))")
    assert state_ddl.startswith("CREATE TABLE IF NOT EXISTS analytics.encore_sync_state (")
    origin = plan.add_origin()
    assert origin == "ALTER TABLE analytics.fans ADD COLUMN _origin VARCHAR(MAX)"
    # a Glue object's merge
    uri = f"s3://{ingested.lake_bucket}/curated/fans/dt=2026-11-27/a-00000.parquet"
    stage, copy, delete, insert, drop, unrecord, record = plan.load(uri, ROLE)
    assert stage.startswith("CREATE TEMPORARY TABLE stage_fans (fan_id VARCHAR(MAX)")
    assert stage.endswith("favorite_genre VARCHAR(MAX))")  # the file's columns, for COPY
    assert copy == f"COPY stage_fans FROM '{uri}' IAM_ROLE '{ROLE}' FORMAT AS PARQUET"
    assert delete.startswith("DELETE FROM analytics.fans USING stage_fans")
    assert delete.endswith("AND analytics.fans._origin = 'glue'")  # never the warehouse's rows
    assert "ROW_NUMBER() OVER (PARTITION BY fan_id ORDER BY fan_id DESC" in insert
    assert "NOT EXISTS(SELECT 1 FROM analytics.fans AS kept WHERE kept.fan_id = ranked.fan_id)" \
        in insert  # fmt: skip
    assert drop == "DROP TABLE stage_fans"
    assert record == (
        "INSERT INTO analytics.encore_loads (object_uri, table_name, loaded_at) "
        f"VALUES ('{uri}', 'fans', GETDATE())"
    )
    # the warehouse's changed buckets
    rows, buckets = (f"s3://{ingested.lake_bucket}/_redshift/fans/0123.{n}.parquet"
                     for n in ("rows", "buckets"))  # fmt: skip
    replaced = plan.replace_buckets(rows, buckets, ROLE, width=2, whole=False)
    assert f"COPY buckets_fans FROM '{buckets}' IAM_ROLE '{ROLE}' FORMAT AS PARQUET" in replaced
    [delete_buckets] = [s for s in replaced if "MD5" in s]
    assert delete_buckets == (
        "DELETE FROM analytics.fans WHERE (_origin IS NULL OR _origin <> 'glue') AND "
        "SUBSTRING(MD5(CAST(fan_id AS VARCHAR(MAX))) FROM 1 FOR 2) IN "
        "(SELECT bucket FROM buckets_fans)"
    )
    whole = plan.replace_buckets(None, buckets, ROLE, width=2, whole=True)
    assert not any("MD5" in s or " FROM '{rows}'" in s for s in whole)
    assert "DELETE FROM analytics.fans WHERE (_origin IS NULL OR _origin <> 'glue')" in whole
    lock = SyncLock(Recorder(), "analytics", holder="o'neil@host pid 7 sync 1")
    locking = [*lock.ddl(), *lock.claim()[1:], *lock.renew()[1:], *lock.unlock()[1:]]
    literals = sqlglot.parse_one(lock.unlock()[1], read="redshift").find_all(exp.Literal)
    assert "o'neil@host pid 7 sync 1" in {literal.this for literal in literals}  # quoted
    statements = [*plan.ddl(), origin, stage, delete, insert, drop, unrecord, record, *replaced,
                  *locking, lock.holder_query()]  # fmt: skip
    for sql in statements:
        if not sql.startswith("COPY"):
            sqlglot.parse_one(sql, read="redshift")  # valid Redshift for sqlglot
    with pytest.raises(ConfigError):
        plan.copy("s3://bucket/x'; DROP TABLE fans; --", ROLE)


class Recorder:
    """Records each batch as the Data API would get it; whoever claims the sync lock gets it."""

    CLAIM = re.compile(r"SELECT 'warehouse', '((?:[^']|'')*)'")

    def __init__(self) -> None:
        self.batches: list[tuple[str, list[str]]] = []
        self.holder = ""

    def run(self, statements: list[str], *, label: str) -> None:
        self.batches.append((label, list(statements)))
        for sql in statements:
            if claim := self.CLAIM.search(sql):
                self.holder = claim.group(1).replace("''", "'")

    def query(self, sql: str, *, label: str) -> list[tuple[Any, ...]]:
        if sql.startswith("SELECT holder, acquired_at, expires_at FROM public.encore_sync_lock"):
            return [(self.holder, "2026-11-27 21:00:00", "2026-11-27 21:15:00")]
        assert sql.startswith(
            (
                "SELECT object_uri FROM public.encore_loads WHERE table_name = ",
                "SELECT bucket, digest, row_count FROM public.encore_sync_state",
            )
        )
        return []  # fmt: skip


def test_load_warehouse_copies_each_table_whole_the_first_time(ingested: Settings) -> None:
    settings = ingested.model_copy(
        update={"redshift_workgroup": "encore", "redshift_iam_role": ROLE}
    )
    recorder = Recorder()
    report = load_warehouse(settings, executor=recorder, s3=aws_client("s3", settings))
    # the sync lock first: its table, then one transaction (a Data API batch) claiming it
    (_, lock_schema), (_, lock_table), (claim_label, claim) = recorder.batches[:3]
    assert lock_schema == ["CREATE SCHEMA IF NOT EXISTS public"]
    assert lock_table[0].startswith("CREATE TABLE IF NOT EXISTS public.encore_sync_lock (")
    assert claim_label == "claim the sync lock public.encore_sync_lock"
    assert claim[0] == "LOCK TABLE public.encore_sync_lock" and len(claim) == 3
    assert "GETDATE() + INTERVAL '900 SECOND'" in claim[2]  # the lease, on Redshift's clock
    # and released last, in one transaction
    release_label, release = recorder.batches[-1]
    assert release_label == "release the sync lock public.encore_sync_lock"
    assert release[0] == "LOCK TABLE public.encore_sync_lock"
    assert release[1].startswith("DELETE FROM public.encore_sync_lock WHERE lock_name = ")
    assert release[1].endswith(f"AND holder = '{recorder.holder}'")
    labels = [label for label, _ in recorder.batches[3:-1]]
    assert labels[0] == "CREATE SCHEMA IF NOT EXISTS public"
    assert labels[1].startswith("CREATE TABLE IF NOT EXISTS public.artists (artist_id VARCHAR(MAX)")
    assert labels[2].startswith("CREATE TABLE IF NOT EXISTS public.encore_loads")
    assert labels[3].startswith("CREATE TABLE IF NOT EXISTS public.encore_sync_state")
    assert all(len(batch) == 1 for _, batch in recorder.batches[3:11])  # DDL: one at a time
    assert labels[8:] == ["replace changed buckets of public.artists",
                          "replace changed buckets of public.fans"]  # fmt: skip
    for _, batch in recorder.batches[11:-1]:
        assert len(batch) <= 40  # the Data API's most statements in one batch
        copies = [s for s in batch if s.startswith("COPY")]
        assert len(copies) == 2 and all("FORMAT AS PARQUET" in c for c in copies)
    assert report.updated == ["public.artists: every bucket replaced, 2 row(s) copied",
                              "public.fans: every bucket replaced, 2 row(s) copied"]  # fmt: skip


def test_a_generated_warehouse_is_synced_though_it_has_no_catalog_entries(
    small_warehouse: Settings, s3_settings: Settings
) -> None:
    settings = small_warehouse.model_copy(
        update={"lake_bucket": s3_settings.lake_bucket, "aws_endpoint_url":
                s3_settings.aws_endpoint_url, "aws_region": s3_settings.aws_region,
                "redshift_workgroup": "encore", "redshift_iam_role": ROLE}
    )  # fmt: skip
    assert query_warehouse(settings, "SELECT count(*) FROM data_catalog") == [(0,)]
    report = load_warehouse(settings, executor=Recorder(), s3=aws_client("s3", settings))
    tables = ["artists", "venues", "fans", "concerts", "ticket_sales", "concert_results"]
    counts = dict(query_warehouse(settings, " UNION ALL ".join(
        f"SELECT '{t}', count(*) FROM {t}" for t in tables)))  # fmt: skip
    assert report.updated == [
        f"public.{t}: every bucket replaced, {counts[t]} row(s) copied" for t in tables
    ]  # the mart, concert_performance, is rebuilt from them, not loaded


def test_load_warehouse_names_missing_settings(ingested: Settings) -> None:
    with pytest.raises(ConfigError, match="ENCORE_REDSHIFT_IAM_ROLE"):
        load_warehouse(ingested)
    with pytest.raises(
        ConfigError, match="ENCORE_REDSHIFT_WORKGROUP or ENCORE_REDSHIFT_CLUSTER_ID"
    ):
        load_warehouse(ingested.model_copy(update={"redshift_iam_role": ROLE}))


def test_a_statement_that_never_finishes_times_out_naming_it(s3_settings: Settings) -> None:
    data_api = aws_client("redshift-data", s3_settings)
    executor = DataApiExecutor(
        data_api, database="dev", workgroup="encore", timeout_s=0.3, poll_s=0.05
    )
    with pytest.raises(
        WarehouseError, match=r"'create public\.fans' .* did not finish within 0\.3 s"
    ) as info:
        executor.run(["CREATE TABLE public.fans (fan_id VARCHAR)"], label="create public.fans")
    error = info.value
    assert error.detail["status"] == "STARTED"
    described = data_api.describe_statement(Id=error.detail["statement_id"])
    assert described["Status"] == "ABORTED"  # cancelled, not left running
    assert described["QueryString"] == "CREATE TABLE public.fans (fan_id VARCHAR)"
    with pytest.raises(WarehouseError, match=r"'loaded public\.fans' .* did not finish"):
        executor.query("SELECT object_uri FROM public.encore_loads", label="loaded public.fans")


def test_a_failed_batch_names_the_failing_statement() -> None:
    class Failed:
        def batch_execute_statement(self, **kwargs: Any) -> dict[str, str]:
            return {"Id": "b1"}

        def describe_statement(self, Id: str) -> dict[str, Any]:  # noqa: N803
            return {
                "Status": "FAILED",
                "SubStatements": [
                    {"Status": "FINISHED", "QueryString": "CREATE TEMPORARY TABLE stage_fans"},
                    {"Status": "FAILED", "QueryString": "COPY stage_fans FROM 's3://b/k'",
                     "Error": "S3 access denied"},
                ],
            }  # fmt: skip

    executor = DataApiExecutor(Failed(), database="dev", cluster_id="c1", db_user="loader")
    with pytest.raises(WarehouseError, match="'merge k' failed: S3 access denied in: COPY"):
        executor.run(["a", "b"], label="merge k")


def _glue_output(
    settings: Settings, s3: Any, run_id: str, rows: list[dict[str, Any]], entity: str = "artists"
) -> str:
    """Put a Glue run's curated rows of `entity` (text columns, `_line`, `_resolved`) in the
    lake and record the run; the object's key."""
    from core.warehouse import writing
    from pipelines.aws.glue_etl import record_run

    bucket = str(settings.lake_bucket)
    body = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), body)
    key = f"curated/{entity}/dt=2026-11-27/{run_id}-00000.parquet"
    s3.put_object(Bucket=bucket, Key=key, Body=body.getvalue())
    types = dict.fromkeys(rows[0], "VARCHAR") | {"_line": "BIGINT", "_resolved": "BOOLEAN"}
    manifest = {"run_id": run_id, "source": "partner", "dt": "2026-11-27", "files": [
        {"uri": f"s3://{bucket}/raw/source=partner/dt=2026-11-27/{run_id}.csv",
         "entity": entity, "rows": len(rows), "accepted": len(rows), "quarantined": 0,
         "status": "succeeded", "message": "", "outputs": [f"s3a://{bucket}/{key}"],
         "datasets": {entity: types}}]}  # fmt: skip
    with writing(settings) as con:
        record_run(con, manifest, bucket)
    return key


def test_a_record_another_source_renamed_loads_under_its_canonical_id(
    fresh_ingested: Settings, pg_dsn: str, tmp_path: Path
) -> None:
    """A partner's "Lanterns, The" (X9) is the crm's artist A1: Redshift gets A1 once, as the
    local warehouse holds it, never the partner's own id. The Glue job's resolved rows are
    merged too (its unresolved ones are not), and the warehouse's rows win over them whichever
    comes first."""
    import psycopg

    settings = _settings(fresh_ingested, "renamed")
    schema = settings.redshift_schema
    partner = write_csv(tmp_path / "partner", "artists.csv",
                        "artist_id,name,genre,country\nX9,\"Lanterns, The\",rock,US\n")  # fmt: skip
    [outcome] = ingest_files(settings, [partner], source="partner")
    assert outcome.status == "succeeded", outcome.message
    assert query_warehouse(settings, "SELECT canonical_id FROM entity_map WHERE source_key = 'X9'"
                           ) == [("A1",)]  # fmt: skip
    s3 = aws_client("s3", settings)
    key = _glue_output(settings, s3, "jr_rs", [
        {"artist_id": "A3", "name": "Nova Lights", "_line": 2, "_resolved": True},
        {"artist_id": "tm-99", "name": "The Wolves", "_line": 3, "_resolved": False},
        {"artist_id": "A1", "name": "Lanterns", "_line": 4, "_resolved": True},
    ])  # fmt: skip
    columns = "artist_id, name, genre, country, popularity, followers, formed_year, spotify_id"
    expected = query_warehouse(settings, f"SELECT {columns} FROM artists ORDER BY artist_id")
    origins_sql = f"SELECT artist_id, name, _origin FROM {schema}.artists ORDER BY 1"
    with psycopg.connect(pg_dsn) as pg:
        lake = CopyFromLake(pg, s3)
        executor = DbApiExecutor(lake, errors=psycopg.Error)

        def load() -> Any:
            return load_warehouse(settings, executor=executor, s3=s3, dialect="postgres")

        load()
        loaded = _rows(pg, f"SELECT {columns} FROM {schema}.artists ORDER BY 1")
        assert [row[0] for row in loaded] == ["A1", "A2", "A3"]  # no X9, no unresolved tm-99
        assert [row for row in loaded if row[0] != "A3"] == expected  # the warehouse's rows won
        assert f"s3://{settings.lake_bucket}/{key}" in lake.copied

        # Glue's next run renames A3 and names A1 again, after the warehouse's A1 was loaded
        _glue_output(settings, s3, "jr_rs2", [
            {"artist_id": "A1", "name": "Lanterns again", "_line": 2, "_resolved": True},
            {"artist_id": "A3", "name": "Nova Lights II", "_line": 3, "_resolved": True},
        ])  # fmt: skip
        load()
        assert _rows(pg, origins_sql) == [("A1", "The Lanterns", "warehouse"),
                                          ("A2", "Mira Sol", "warehouse"),
                                          ("A3", "Nova Lights II", "glue")]  # fmt: skip


def test_a_warehouse_delete_removes_its_rows_not_the_keys_only_glue_brought(
    fresh_ingested: Settings, pg_dsn: str, tmp_path: Path
) -> None:
    import psycopg

    from core.warehouse import writing

    settings = _settings(fresh_ingested, "deletes")
    schema = settings.redshift_schema
    s3 = aws_client("s3", settings)
    _glue_output(settings, s3, "jr_fans", [
        {"fan_id": "F7", "city": "Tulsa", "_line": 2, "_resolved": True},
        {"fan_id": "F2", "city": "Salem", "_line": 3, "_resolved": True},
    ], entity="fans")  # fmt: skip
    origins_sql = f"SELECT fan_id, city, _origin FROM {schema}.fans ORDER BY 1"
    with psycopg.connect(pg_dsn) as pg:
        executor = DbApiExecutor(CopyFromLake(pg, s3), errors=psycopg.Error)

        def load() -> Any:
            return load_warehouse(settings, executor=executor, s3=s3, dialect="postgres")

        load()
        assert _rows(pg, origins_sql) == [("F1", "Austin", "warehouse"),
                                          ("F2", "Boston", "warehouse"),
                                          ("F7", "Tulsa", "glue")]  # fmt: skip
        with writing(settings) as duck:
            duck.execute("DELETE FROM fans WHERE fan_id = 'F2'")
        load()
        assert _rows(pg, origins_sql) == [("F1", "Austin", "warehouse"),
                                          ("F7", "Tulsa", "glue")]  # fmt: skip

        # the warehouse takes F7 in: its row replaces Glue's, and its delete then removes it
        more = write_csv(tmp_path / "more", "fans.csv", "fan_id,city,country\nF7,Enid,US\n")
        assert ingest_files(settings, [more])[0].status == "succeeded"
        load()
        assert ("F7", "Enid", "warehouse") in _rows(pg, origins_sql)
        with writing(settings) as duck:
            duck.execute("DELETE FROM fans WHERE fan_id = 'F7'")
        load()
        assert _rows(pg, origins_sql) == [("F1", "Austin", "warehouse")]


def test_a_table_synced_before_digests_is_replaced_once_keeping_glues_rows(
    fresh_ingested: Settings, pg_dsn: str
) -> None:
    """A table the previous loader filled (no `_origin`, no digests), holding a fan the
    warehouse has deleted since and a Glue object's artist: the first sync replaces the
    warehouse's rows whole and merges Glue's objects again."""
    import psycopg

    settings = _settings(fresh_ingested, "upgrade")
    schema = settings.redshift_schema
    s3 = aws_client("s3", settings)
    key = _glue_output(settings, s3, "jr_old", [
        {"artist_id": "A3", "name": "Nova Lights", "_line": 2, "_resolved": True},
    ])  # fmt: skip
    uri = f"s3://{settings.lake_bucket}/{key}"
    with psycopg.connect(pg_dsn) as pg:
        with pg.cursor() as cur:  # what the previous loader left
            cur.execute(f"CREATE SCHEMA {schema}")
            cur.execute(f"CREATE TABLE {schema}.fans (fan_id TEXT PRIMARY KEY, city TEXT, "
                        "state TEXT, country TEXT, age_band TEXT, signup_date DATE, "
                        "favorite_genre TEXT)")  # fmt: skip
            cur.execute(f"INSERT INTO {schema}.fans (fan_id, city) VALUES ('F1', 'Austin'), "
                        "('F9', 'Gone')")  # fmt: skip
            cur.execute(f"CREATE TABLE {schema}.artists (artist_id TEXT PRIMARY KEY, name TEXT, "
                        "genre TEXT, country TEXT, popularity SMALLINT, followers BIGINT, "
                        "formed_year SMALLINT, spotify_id TEXT)")  # fmt: skip
            cur.execute(f"INSERT INTO {schema}.artists (artist_id, name) VALUES ('A3', 'Nova')")
            cur.execute(f"CREATE TABLE {schema}.venues (venue_id TEXT PRIMARY KEY, name TEXT)")
            cur.execute(f"INSERT INTO {schema}.venues VALUES ('V9', 'Gone Hall')")  # none locally
            cur.execute(f"CREATE TABLE {schema}.encore_loads (object_uri TEXT PRIMARY KEY, "
                        "table_name TEXT NOT NULL, loaded_at TIMESTAMP NOT NULL)")  # fmt: skip
            cur.execute(f"INSERT INTO {schema}.encore_loads VALUES ('{uri}', 'artists', now())")
        pg.commit()
        lake = CopyFromLake(pg, s3)
        executor = DbApiExecutor(lake, errors=psycopg.Error)
        report = load_warehouse(settings, executor=executor, s3=s3, dialect="postgres")
        assert f"{schema}.artists: merged {uri}" in report.updated
        assert f"{schema}.venues: every bucket replaced, 0 row(s) copied" in report.updated
        assert _rows(pg, f"SELECT count(*) FROM {schema}.venues") == [(0,)]
        assert not [u for u in lake.copied if "/venues/" in u]  # nothing to COPY, no empty file
        assert _rows(pg, f"SELECT fan_id, _origin FROM {schema}.fans ORDER BY 1") == [
            ("F1", "warehouse"), ("F2", "warehouse")]  # fmt: skip
        assert _rows(pg, f"SELECT artist_id, name, _origin FROM {schema}.artists ORDER BY 1") == [
            ("A1", "The Lanterns", "warehouse"), ("A2", "Mira Sol", "warehouse"),
            ("A3", "Nova Lights", "glue")]  # fmt: skip
