"""The Redshift loader.

(a) The generated SQL runs for real on the PostgreSQL server the query tests start: the DDL and
    the merge are the same statements transpiled to "postgres" instead of "redshift", and the
    COPY step (Redshift only) is replaced by inserting the same Parquet rows, read from the
    moto S3 lake the ingest wrote them to.
(b) The Data API polling against moto's server, whose statements never finish: the timeout
    cancels the statement and names it.
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest
import sqlglot

from core.errors import ConfigError, WarehouseError
from core.settings import Settings
from pipelines.aws.redshift import (
    DataApiExecutor,
    DbApiExecutor,
    LoadPlan,
    curated_objects,
    load_warehouse,
    plans,
)
from pipelines.catalog import catalog
from pipelines.ingest import ingest_files
from tests.tools.query.conftest import pg_dsn  # noqa: F401 - the real PostgreSQL fixture

from .conftest import aws_client, write_csv

ROLE = "arn:aws:iam::123456789012:role/encore-redshift-copy"


def _plans(settings: Settings, schema: str, dialect: str) -> dict[str, LoadPlan]:
    con = duckdb.connect(str(settings.warehouse_file), read_only=True)
    try:
        found, skipped = plans(catalog(con), schema)
    finally:
        con.close()
    assert skipped == []
    return {p.table: dataclasses.replace(p, dialect=dialect) for p in found}


def _load_into_postgres(
    settings: Settings, plan: LoadPlan, executor: DbApiExecutor, pg: Any
) -> int:
    """What load_warehouse does per table, with COPY replaced by inserting the Parquet rows."""
    executor.run(plan.ddl(), label=f"create {plan.target}")
    s3 = aws_client("s3", settings)
    objects = curated_objects(s3, str(settings.lake_bucket), plan.table)
    for uri in objects:
        key = uri.split("/", 3)[3]
        body = s3.get_object(Bucket=settings.lake_bucket, Key=key)["Body"].read()
        rows = pq.read_table(io.BytesIO(body)).to_pylist()
        executor.run([plan.create_stage()], label="stage")
        names = list(plan.file_columns)
        with pg.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {plan.stage} ({', '.join(names)}) "
                f"VALUES ({', '.join(['%s'] * len(names))})",
                [[row[n] for n in names] for row in rows],
            )
        executor.run(plan.merge(), label=f"merge {uri}")
    return len(objects)


def _rows(pg: Any, sql: str) -> list[tuple[Any, ...]]:
    with pg.cursor() as cur:
        cur.execute(sql)
        return list(cur.fetchall())


def test_the_merge_sql_loads_and_reloads_the_curated_rows_in_postgres(
    fresh_ingested: Settings,
    pg_dsn: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    import psycopg

    schema = f"encore_{fresh_ingested.glue_database.split('_')[-1]}"
    with psycopg.connect(pg_dsn) as pg:
        executor = DbApiExecutor(pg, errors=psycopg.Error)
        found = _plans(fresh_ingested, schema, "postgres")
        assert set(found) == {"artists", "fans"}
        for plan in found.values():
            assert _load_into_postgres(fresh_ingested, plan, executor, pg) == 1
        duck = duckdb.connect(str(fresh_ingested.warehouse_file), read_only=True)
        expected = duck.execute(
            "SELECT fan_id, city, state, country, age_band, signup_date, favorite_genre "
            "FROM fans ORDER BY fan_id"
        ).fetchall()
        duck.close()
        fans_sql = (
            "SELECT fan_id, city, state, country, age_band, signup_date, favorite_genre "
            f"FROM {schema}.fans ORDER BY fan_id"
        )
        assert _rows(pg, fans_sql) == expected
        artists = _rows(pg, f"SELECT artist_id, name, popularity FROM {schema}.artists ORDER BY 1")
        assert artists == [("A1", "The Lanterns", 71), ("A2", "Mira Sol", 88)]

        # a re-run merges the same objects again: same rows, no duplicates (fan_id is the key)
        _load_into_postgres(fresh_ingested, found["fans"], executor, pg)
        assert _rows(pg, fans_sql) == expected

        # a later run changes F1 and adds F3: its object merges after the first one
        update = "fan_id,city,state,country\nF1,Dallas,TX,US\nF3,Reno,NV,US\n"
        more = write_csv(tmp_path / "more", "fans.csv", update)
        assert ingest_files(fresh_ingested, [more])[0].status == "succeeded"
        assert _load_into_postgres(fresh_ingested, found["fans"], executor, pg) == 2
        cities = dict(_rows(pg, f"SELECT fan_id, city FROM {schema}.fans"))
        assert cities == {"F1": "Dallas", "F2": "Boston", "F3": "Reno"}
        duck = duckdb.connect(str(fresh_ingested.warehouse_file), read_only=True)
        assert dict(duck.execute("SELECT fan_id, city FROM fans").fetchall()) == cities
        duck.close()


def test_the_redshift_sql_is_redshift(ingested: Settings) -> None:
    plan = _plans(ingested, "analytics", "redshift")["fans"]
    schema_ddl, table_ddl = plan.ddl()
    assert schema_ddl == "CREATE SCHEMA IF NOT EXISTS analytics"
    assert table_ddl.startswith("CREATE TABLE IF NOT EXISTS analytics.fans (fan_id VARCHAR(MAX)")
    assert "signup_date DATE" in table_ddl and table_ddl.endswith("PRIMARY KEY (fan_id))")
    uri = f"s3://{ingested.lake_bucket}/curated/fans/dt=2026-11-27/run.parquet"
    stage, copy, delete, insert, drop = plan.load(uri, ROLE)
    assert stage.startswith("CREATE TEMPORARY TABLE stage_fans (fan_id VARCHAR(MAX)")
    assert stage.endswith("_line BIGINT)")  # the file's columns, in file order, for COPY
    assert copy == f"COPY stage_fans FROM '{uri}' IAM_ROLE '{ROLE}' FORMAT AS PARQUET"
    assert delete.startswith("DELETE FROM analytics.fans USING stage_fans")
    assert "ROW_NUMBER() OVER (PARTITION BY fan_id ORDER BY _line DESC" in insert
    assert drop == "DROP TABLE stage_fans"
    for sql in (schema_ddl, table_ddl, stage, delete, insert, drop):
        sqlglot.parse_one(sql, read="redshift")  # valid Redshift for sqlglot
    with pytest.raises(ConfigError):
        plan.copy("s3://bucket/x'; DROP TABLE fans; --", ROLE)


class Recorder:
    def __init__(self) -> None:
        self.batches: list[tuple[str, list[str]]] = []

    def run(self, statements: list[str], *, label: str) -> None:
        self.batches.append((label, list(statements)))


def test_load_warehouse_copies_every_object_oldest_first(ingested: Settings) -> None:
    settings = ingested.model_copy(
        update={"redshift_workgroup": "encore", "redshift_iam_role": ROLE}
    )
    recorder = Recorder()
    report = load_warehouse(settings, executor=recorder, s3=aws_client("s3", settings))
    labels = [label for label, _ in recorder.batches]
    assert labels[0] == "create public.artists" and labels[2] == "create public.fans"
    assert labels[1].startswith(f"merge s3://{settings.lake_bucket}/curated/artists/dt=")
    copies = [s for _, batch in recorder.batches for s in batch if s.startswith("COPY")]
    assert len(copies) == 2 and all("FORMAT AS PARQUET" in c for c in copies)
    assert report.updated == [
        "public.artists: merged 1 Parquet object(s)",
        "public.fans: merged 1 Parquet object(s)",
    ]


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
