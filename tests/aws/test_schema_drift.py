"""Tables created before migration 0003 gain its columns when synced, in Redshift and Glue.

Redshift: the ALTER TABLE statements run on the PostgreSQL server the query tests start (the
same SQL transpiled to "postgres"), and their Redshift text is parsed by sqlglot's Redshift
dialect. Glue: against moto's server.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlglot

from core.aws import SyncReport
from core.settings import Settings
from pipelines.aws.glue import CuratedDataset, GlueCatalog
from pipelines.aws.redshift import DbApiExecutor, LoadPlan, add_missing_columns

from .conftest import aws_client

BEFORE_0003 = {"concert_id": "VARCHAR", "artist_id": "VARCHAR", "event_date": "DATE"}
AFTER_0003 = {**BEFORE_0003, "currency": "VARCHAR", "starts_at": "TIMESTAMP"}


def _plan(schema: str, columns: dict[str, str], dialect: str) -> LoadPlan:
    return LoadPlan("concerts", schema, "concert_id", columns, columns, dialect)


def test_a_redshift_table_from_before_0003_gets_the_new_columns(pg_dsn: str) -> None:
    import psycopg

    schema = f"drift_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_dsn) as pg:
        executor = DbApiExecutor(pg, errors=psycopg.Error)
        executor.run(_plan(schema, BEFORE_0003, "postgres").ddl(), label="old table")
        executor.run([f"INSERT INTO {schema}.concerts VALUES ('C1', 'A1', '2024-01-02')"],
                     label="old row")  # fmt: skip
        plan = _plan(schema, AFTER_0003, "postgres")
        executor.run(plan.ddl(), label="ddl")  # IF NOT EXISTS: leaves the old table as it was
        assert executor.table_columns(plan) == set(BEFORE_0003)

        report = SyncReport("warehouse")
        add_missing_columns(executor, plan, report)

        assert report.updated == [
            f"{schema}.concerts: column currency TEXT added",
            f"{schema}.concerts: column starts_at TIMESTAMP added",
        ]
        assert executor.table_columns(plan) == set(AFTER_0003)
        rows = executor.query(f"SELECT concert_id, currency FROM {schema}.concerts", label="q")
        assert rows == [("C1", None)]  # the old rows stay, the new column empty
        again = SyncReport("warehouse")
        add_missing_columns(executor, plan, again)
        assert again.updated == []


def test_the_redshift_alter_statements_are_redshift() -> None:
    plan = _plan("analytics", AFTER_0003, "redshift")
    statements = plan.add_columns({"concert_id", "ARTIST_ID", "event_date"})
    assert statements == [
        "ALTER TABLE analytics.concerts ADD COLUMN currency VARCHAR(MAX)",
        "ALTER TABLE analytics.concerts ADD COLUMN starts_at TIMESTAMP",
    ]
    for sql in statements:
        sqlglot.parse_one(sql, read="redshift")


class FailingConnection:
    """A DB-API connection whose statements fail: the transaction must be rolled back."""

    def __init__(self) -> None:
        self.rolled_back = 0

    def cursor(self) -> Any:
        class Cursor:
            def execute(self, sql: str) -> None:
                raise RuntimeError(f"no such table in: {sql}")

            def close(self) -> None:
                pass

        return Cursor()

    def commit(self) -> None:
        raise AssertionError("nothing to commit")

    def rollback(self) -> None:
        self.rolled_back += 1


def test_run_and_query_roll_back_and_name_the_failing_sql() -> None:
    from core.errors import WarehouseError

    connection = FailingConnection()
    executor = DbApiExecutor(connection, errors=RuntimeError)
    with pytest.raises(WarehouseError, match="statement 'merge' failed") as ran:
        executor.run(["SELECT 1", "SELECT 2"], label="merge")
    assert ran.value.detail["sql"] == "SELECT 1"
    with pytest.raises(WarehouseError, match="query 'loaded' failed"):
        executor.query("SELECT object_uri FROM x", label="loaded")
    assert connection.rolled_back == 2


def test_a_glue_table_from_before_0003_gets_the_new_columns(s3_settings: Settings) -> None:
    glue = aws_client("glue", s3_settings)
    catalog = GlueCatalog(glue, s3_settings.glue_database)
    location = f"s3://{s3_settings.lake_bucket}/curated/concerts"

    def dataset(columns: dict[str, str]) -> CuratedDataset:
        return CuratedDataset("concerts", location, columns, (), 1)

    catalog.sync([dataset({**BEFORE_0003, "legacy_note": "VARCHAR"})])
    report = catalog.sync([dataset(AFTER_0003)])

    name = f"table {s3_settings.glue_database}.concerts"
    assert report.updated == [f"{name} (columns currency, starts_at added)"]
    table = glue.get_table(DatabaseName=s3_settings.glue_database, Name="concerts")["Table"]
    columns = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
    assert columns == [
        ("concert_id", "string"), ("artist_id", "string"), ("event_date", "date"),
        ("currency", "string"), ("starts_at", "timestamp"),
        ("legacy_note", "string"),  # older partitions may still hold it: kept, not dropped
    ]  # fmt: skip
    assert not catalog.sync([dataset(AFTER_0003)]).changed
