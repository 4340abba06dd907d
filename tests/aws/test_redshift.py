"""The Redshift loader.

(a) `load_warehouse` runs for real on the PostgreSQL server the query tests start: the DDL, the
    merge and the load log are the same statements transpiled to "postgres" instead of
    "redshift", and each COPY (Redshift only) is replaced by inserting the same Parquet rows,
    read from the moto S3 lake (the warehouse's snapshots and the Glue job's objects). The
    Redshift text itself is checked by parsing it with sqlglot's Redshift dialect.
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

from core.errors import ConfigError, WarehouseError
from core.settings import Settings
from pipelines.aws.redshift import (
    DataApiExecutor,
    DbApiExecutor,
    LoadPlan,
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

    def cursor(self) -> Any:
        outer = self
        cursor = self.connection.cursor()

        class Cursor:
            def execute(self, sql: str) -> None:
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

    def commit(self) -> None:
        self.connection.commit()

    def rollback(self) -> None:
        self.connection.rollback()


def _rows(pg: Any, sql: str) -> list[tuple[Any, ...]]:
    with pg.cursor() as cur:
        cur.execute(sql)
        return list(cur.fetchall())


def test_load_warehouse_merges_each_snapshot_once_in_postgres(
    fresh_ingested: Settings,
    pg_dsn: str,
    tmp_path: Path,
) -> None:
    import psycopg

    settings = fresh_ingested.model_copy(
        update={
            "redshift_workgroup": "unused",
            "redshift_iam_role": ROLE,
            "redshift_schema": f"encore_{fresh_ingested.glue_database.split('_')[-1]}",
        }
    )
    schema = settings.redshift_schema
    s3 = aws_client("s3", settings)
    with psycopg.connect(pg_dsn) as pg:
        lake = CopyFromLake(pg, s3)
        executor = DbApiExecutor(lake, errors=psycopg.Error)

        def load() -> Any:
            return load_warehouse(settings, executor=executor, s3=s3, dialect="postgres")

        first = load()
        assert len(first.updated) == 2 and len(lake.copied) == 2  # artists, fans
        fans_columns = "fan_id, city, state, country, age_band, signup_date, favorite_genre"
        expected = query_warehouse(settings, f"SELECT {fans_columns} FROM fans ORDER BY fan_id")
        fans_sql = f"SELECT {fans_columns} FROM {schema}.fans ORDER BY fan_id"
        assert _rows(pg, fans_sql) == expected
        artists = _rows(pg, f"SELECT artist_id, name, popularity FROM {schema}.artists ORDER BY 1")
        assert artists == [("A1", "The Lanterns", 71), ("A2", "Mira Sol", 88)]

        # a second run merges nothing: every object is recorded in encore_loads
        second = load()
        assert second.updated == [] and len(lake.copied) == 2
        assert f"{schema}.fans: 1 object(s) merged before" in second.skipped
        assert _rows(pg, fans_sql) == expected

        # a later run changes F1 and adds F3: only its object is merged, and it wins
        update = "fan_id,city,state,country\nF1,Dallas,TX,US\nF3,Reno,NV,US\n"
        more = write_csv(tmp_path / "more", "fans.csv", update)
        assert ingest_files(settings, [more])[0].status == "succeeded"
        third = load()
        assert len(third.updated) == 1 and third.updated[0].startswith(f"{schema}.fans: merged")
        cities = dict(_rows(pg, f"SELECT fan_id, city FROM {schema}.fans"))
        assert cities == {"F1": "Dallas", "F2": "Boston", "F3": "Reno"}
        duck = duckdb.connect(str(settings.warehouse_file), read_only=True)
        assert dict(duck.execute("SELECT fan_id, city FROM fans").fetchall()) == cities
        duck.close()


def test_rows_sharing_a_key_in_one_file_keep_the_last_line(pg_dsn: str) -> None:
    import psycopg

    plan = LoadPlan(
        "fans", "dedup_check", "fan_id", {"fan_id": "VARCHAR", "city": "VARCHAR"},
        {"fan_id": "VARCHAR", "city": "VARCHAR", "_line": "BIGINT"}, "postgres",
    )  # fmt: skip
    with psycopg.connect(pg_dsn) as pg:
        executor = DbApiExecutor(pg, errors=psycopg.Error)
        executor.run(plan.ddl(), label="ddl")
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
        executor.run(plan.ddl(), label="ddl")
        # A1 is linked to its canonical entity; tm-99 is a source id entity_map does not know
        staged = "INSERT INTO stage_artists VALUES ('A1', 'Wolves', 2, TRUE), " \
                 "('tm-99', 'The Wolves', 3, FALSE)"  # fmt: skip
        executor.run([plan.create_stage(), staged, *plan.merge()], label="merge")
        assert _rows(pg, "SELECT artist_id FROM resolved_check.artists") == [("A1",)]


def test_the_redshift_sql_is_redshift(ingested: Settings) -> None:
    plan = _plans(ingested, "analytics", "redshift")["fans"]
    schema_ddl, table_ddl, loads_ddl = plan.ddl()
    assert schema_ddl == "CREATE SCHEMA IF NOT EXISTS analytics"
    assert table_ddl.startswith("CREATE TABLE IF NOT EXISTS analytics.fans (fan_id VARCHAR(MAX)")
    assert "signup_date DATE" in table_ddl and table_ddl.endswith("PRIMARY KEY (fan_id))")
    uri = f"s3://{ingested.lake_bucket}/_redshift/fans/0123.parquet"
    stage, copy, delete, insert, drop, record = plan.load(uri, ROLE)
    assert stage.startswith("CREATE TEMPORARY TABLE stage_fans (fan_id VARCHAR(MAX)")
    assert stage.endswith("favorite_genre VARCHAR(MAX))")  # the snapshot's columns, for COPY
    assert copy == f"COPY stage_fans FROM '{uri}' IAM_ROLE '{ROLE}' FORMAT AS PARQUET"
    assert delete.startswith("DELETE FROM analytics.fans USING stage_fans")
    assert "ROW_NUMBER() OVER (PARTITION BY fan_id ORDER BY fan_id DESC" in insert
    assert drop == "DROP TABLE stage_fans"
    assert record == (
        "INSERT INTO analytics.encore_loads (object_uri, table_name, loaded_at) "
        f"VALUES ('{uri}', 'fans', GETDATE())"
    )
    for sql in (schema_ddl, table_ddl, loads_ddl, stage, delete, insert, drop, record):
        sqlglot.parse_one(sql, read="redshift")  # valid Redshift for sqlglot
    with pytest.raises(ConfigError):
        plan.copy("s3://bucket/x'; DROP TABLE fans; --", ROLE)


class Recorder:
    def __init__(self) -> None:
        self.batches: list[tuple[str, list[str]]] = []

    def run(self, statements: list[str], *, label: str) -> None:
        self.batches.append((label, list(statements)))

    def query(self, sql: str, *, label: str) -> list[tuple[Any, ...]]:
        assert sql.startswith("SELECT object_uri FROM public.encore_loads WHERE table_name = ")
        return []


def test_load_warehouse_copies_each_tables_snapshot(ingested: Settings) -> None:
    settings = ingested.model_copy(
        update={"redshift_workgroup": "encore", "redshift_iam_role": ROLE}
    )
    recorder = Recorder()
    report = load_warehouse(settings, executor=recorder, s3=aws_client("s3", settings))
    labels = [label for label, _ in recorder.batches]
    assert labels[0] == "CREATE SCHEMA IF NOT EXISTS public"
    assert labels[1].startswith("CREATE TABLE IF NOT EXISTS public.artists (artist_id VARCHAR(MAX)")
    assert labels[2].startswith("CREATE TABLE IF NOT EXISTS public.encore_loads")
    assert labels[3].startswith(f"merge s3://{settings.lake_bucket}/_redshift/artists/")
    assert labels[7].startswith(f"merge s3://{settings.lake_bucket}/_redshift/fans/")
    assert all(len(batch) == 1 for _, batch in recorder.batches[:3])  # DDL: one at a time
    copies = [s for _, batch in recorder.batches for s in batch if s.startswith("COPY")]
    assert len(copies) == 2 and all("FORMAT AS PARQUET" in c for c in copies)
    assert [u.split(": merged ")[0] for u in report.updated] == ["public.artists", "public.fans"]


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


def test_a_record_another_source_renamed_loads_under_its_canonical_id(
    fresh_ingested: Settings, pg_dsn: str, tmp_path: Path
) -> None:
    """A partner's "Lanterns, The" (X9) is the crm's artist A1: Redshift gets A1 once, as the
    local warehouse holds it, never the partner's own id. The Glue job's resolved rows are
    merged too (its unresolved ones are not), before the warehouse's, which win."""
    import psycopg

    from core.warehouse import writing
    from pipelines.aws.glue_etl import record_run

    settings = fresh_ingested.model_copy(
        update={"redshift_workgroup": "unused", "redshift_iam_role": ROLE,
                "redshift_schema": f"renamed_{fresh_ingested.glue_database.split('_')[-1]}"}
    )  # fmt: skip
    partner = write_csv(tmp_path / "partner", "artists.csv",
                        "artist_id,name,genre,country\nX9,\"Lanterns, The\",rock,US\n")  # fmt: skip
    [outcome] = ingest_files(settings, [partner], source="partner")
    assert outcome.status == "succeeded", outcome.message
    assert query_warehouse(settings, "SELECT canonical_id FROM entity_map WHERE source_key = 'X9'"
                           ) == [("A1",)]  # fmt: skip
    s3, bucket = aws_client("s3", settings), str(settings.lake_bucket)
    glue_rows = pa.Table.from_pylist([
        {"artist_id": "A3", "name": "Nova Lights", "_line": 2, "_resolved": True},
        {"artist_id": "tm-99", "name": "The Wolves", "_line": 3, "_resolved": False},
        {"artist_id": "A1", "name": "Lanterns", "_line": 4, "_resolved": True},
    ])  # fmt: skip
    body = io.BytesIO()
    pq.write_table(glue_rows, body)
    key = "curated/artists/dt=2026-11-27/glue-00000.parquet"
    s3.put_object(Bucket=bucket, Key=key, Body=body.getvalue())
    types = {"artist_id": "VARCHAR", "name": "VARCHAR", "_line": "BIGINT", "_resolved": "BOOLEAN"}
    manifest = {"run_id": "jr_rs", "source": "partner", "dt": "2026-11-27", "files": [
        {"uri": f"s3://{bucket}/raw/source=partner/dt=2026-11-27/a.csv", "entity": "artists",
         "rows": 3, "accepted": 3, "quarantined": 0, "status": "succeeded", "message": "",
         "outputs": [f"s3a://{bucket}/{key}"], "datasets": {"artists": types}}]}  # fmt: skip
    with writing(settings) as con:
        record_run(con, manifest, bucket)
    columns = "artist_id, name, genre, country, popularity, followers, formed_year, spotify_id"
    expected = query_warehouse(settings, f"SELECT {columns} FROM artists ORDER BY artist_id")
    with psycopg.connect(pg_dsn) as pg:
        lake = CopyFromLake(pg, s3)
        executor = DbApiExecutor(lake, errors=psycopg.Error)
        load_warehouse(settings, executor=executor, s3=s3, dialect="postgres")
        loaded = _rows(pg, f"SELECT {columns} FROM {settings.redshift_schema}.artists ORDER BY 1")
    assert [row[0] for row in loaded] == ["A1", "A2", "A3"]  # no X9, no unresolved tm-99
    assert [row for row in loaded if row[0] != "A3"] == expected  # the warehouse's rows won
    assert lake.copied[0] == f"s3://{bucket}/{key}"  # Glue's object first, then the snapshot
