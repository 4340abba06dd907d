"""Two Redshift syncs at once on one schema (pipelines/aws/redshift_lock.SyncLock).

Both run `load_warehouse` for real on the tests' PostgreSQL (COPY replaced by inserting the
Parquet rows, as in test_redshift.py), each on a connection of its own, from two threads started
together; through a DB-API connection, and through the Data API executor (its calls answered by
PostgreSQL: a batch is one transaction, results come back as Data API records).

To make their overlap certain rather than likely, each sync waits up to `MEET_S` at its
first write for the other to reach its own: without the lock both arrive (both having diffed
against the same digests), with it the second is still waiting for the lock, and the first goes
on alone after `MEET_S`.
"""

from __future__ import annotations

import contextlib
import io
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest
import sqlglot

from core.aws import SyncReport
from core.errors import WarehouseError
from core.settings import Settings
from core.warehouse import reading
from pipelines.aws.buckets import Bucket, local_buckets
from pipelines.aws.redshift import (
    DataApiExecutor,
    DbApiExecutor,
    Executor,
    SyncLock,
    load_warehouse,
)
from pipelines.ingest import ingest_files
from tests.conftest import query_warehouse

from .conftest import aws_client, write_csv
from .test_redshift import CopyFromLake, _glue_output, _rows, _settings

MEET_S = 2.0
KEYS = {"artists": "artist_id", "fans": "fan_id"}


class Copies(CopyFromLake):
    """CopyFromLake that also notes what each COPY brought: keys (rows) or buckets (digests)."""

    def __init__(self, connection: Any, s3: Any) -> None:
        super().__init__(connection, s3)
        self.keys: list[tuple[str, str]] = []  # (table, key) per row copied from the warehouse
        self.buckets: list[tuple[str, str]] = []  # (table, bucket) per bucket replaced

    def copy(self, cursor: Any, table: str, uri: str) -> None:
        bucket, key = uri.removeprefix("s3://").split("/", 1)
        parquet = pq.read_table(
            io.BytesIO(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        )
        name = key.split("/")[1]  # _redshift/<table>/...
        if uri.endswith(".rows.parquet"):
            self.keys += [(name, str(k)) for k in parquet.column(KEYS[name]).to_pylist()]
        elif uri.endswith(".buckets.parquet"):
            self.buckets += [(name, str(b)) for b in parquet.column("bucket").to_pylist()]
        super().copy(cursor, table, uri)


class DataApiOnPostgres:
    """The Redshift Data API's calls, answered at once by PostgreSQL: a batch (or a single
    statement) is one transaction; a failure is reported as the Data API reports it."""

    def __init__(self, lake: Copies) -> None:
        self.lake = lake
        self.statements: dict[str, dict[str, Any]] = {}

    def execute_statement(self, *, Sql: str, **target: Any) -> dict[str, str]:  # noqa: N803
        return self._run([Sql])

    def batch_execute_statement(self, *, Sqls: list[str], **target: Any) -> dict[str, str]:  # noqa: N803
        return self._run(Sqls)

    def _run(self, statements: list[str]) -> dict[str, str]:
        import psycopg

        statement_id = uuid.uuid4().hex
        cursor, sql = self.lake.cursor(), ""
        try:
            for sql in statements:
                cursor.execute(sql)
            rows = cursor.fetchall() if cursor.description else []
            self.lake.commit()
            self.statements[statement_id] = {"Status": "FINISHED", "rows": rows}
        except psycopg.Error as exc:
            self.lake.rollback()
            self.statements[statement_id] = {"Status": "FAILED", "Error": str(exc),
                                             "QueryString": sql}  # fmt: skip
        return {"Id": statement_id}

    def describe_statement(self, Id: str) -> dict[str, Any]:  # noqa: N803
        return {k: v for k, v in self.statements[Id].items() if k != "rows"}

    def get_statement_result(self, Id: str) -> dict[str, Any]:  # noqa: N803
        def field(value: Any) -> dict[str, Any]:
            if value is None:
                return {"isNull": True}
            if isinstance(value, bool):
                return {"booleanValue": value}
            if isinstance(value, int):
                return {"longValue": value}
            return {"stringValue": str(value)}

        return {"Records": [[field(v) for v in row] for row in self.statements[Id]["rows"]]}


def _db_api(lake: Copies) -> Executor:
    import psycopg

    return DbApiExecutor(lake, errors=psycopg.Error)


def _data_api(lake: Copies) -> Executor:
    return DataApiExecutor(DataApiOnPostgres(lake), database="dev", workgroup="encore",
                           timeout_s=30, poll_s=0.01)  # fmt: skip


class Meeting:
    """An executor that, at the sync's first write, waits up to MEET_S for the other sync."""

    def __init__(self, inner: Any, meet: threading.Barrier) -> None:
        self.inner = inner
        self.meet = meet
        self.met = False

    def run(self, statements: list[str], *, label: str) -> None:
        if not self.met and label.startswith(("replace changed buckets", "merge ")):
            self.met = True
            # broken: the other is not writing now (it waits for the lock)
            with contextlib.suppress(threading.BrokenBarrierError):
                self.meet.wait(timeout=MEET_S)
        self.inner.run(statements, label=label)

    def query(self, sql: str, *, label: str) -> list[tuple[Any, ...]]:
        return self.inner.query(sql, label=label)

    def table_columns(self, plan: Any) -> set[str]:
        return self.inner.table_columns(plan)


def _at_once(
    settings: Settings, pg_dsn: str, s3: Any, executor: Callable[[Copies], Executor]
) -> tuple[list[Any], list[Copies]]:
    """Two syncs started together; their reports (or errors) and what each copied."""
    import psycopg

    start, meet = threading.Barrier(2), threading.Barrier(2)
    results: list[Any] = [None, None]
    lakes: list[Any] = [None, None]

    def one(i: int) -> None:
        with psycopg.connect(pg_dsn) as pg:
            lakes[i] = Copies(pg, s3)
            meeting = Meeting(executor(lakes[i]), meet)
            start.wait(timeout=30)
            try:
                results[i] = load_warehouse(
                    settings,
                    executor=meeting,
                    s3=s3,
                    dialect="postgres",
                    lock_wait_s=60,
                    lock_poll_s=0.1,
                )
            except Exception as exc:  # reported by the test
                results[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results, lakes


def _digests_match_rows(settings: Settings, pg: Any, table: str) -> None:
    """The digests Redshift keeps are those of its rows of the warehouse, and the warehouse's."""
    schema, key = settings.redshift_schema, KEYS[table]
    state = {str(b): Bucket(str(d), int(n)) for b, d, n in _rows(
        pg, f"SELECT bucket, digest, row_count FROM {schema}.encore_sync_state "
            f"WHERE table_name = '{table}'")}  # fmt: skip
    [width] = {len(b) for b in state}
    typed = query_warehouse(settings, "SELECT column_name, data_type FROM "
                            f"information_schema.columns WHERE table_name = '{table}' "
                            "AND table_schema = 'main' ORDER BY ordinal_position")  # fmt: skip
    columns = [str(c) for c, _ in typed]
    listed = ", ".join(columns)
    remote = _rows(pg, f"SELECT {listed} FROM {schema}.{table} WHERE _origin = 'warehouse'")
    copy = duckdb.connect()
    copy.execute(f"CREATE TABLE {table} ({', '.join(f'{c} {t}' for c, t in typed)})")
    if remote:
        copy.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(columns))})",
                         [list(row) for row in remote])  # fmt: skip
    assert local_buckets(copy, table, key, columns, width) == state
    with reading(settings) as con:
        assert local_buckets(con, table, key, columns, width) == state


@pytest.mark.parametrize("executor", [_db_api, _data_api], ids=["db_api", "data_api"])
def test_two_syncs_at_once_copy_each_change_once_and_keep_digests_true(
    fresh_ingested: Settings, pg_dsn: str, tmp_path: Path, executor: Callable[[Copies], Executor]
) -> None:
    import psycopg

    settings = _settings(fresh_ingested, "twice")
    schema = settings.redshift_schema
    s3 = aws_client("s3", settings)

    # the first syncs ever, on a schema that does not exist yet
    results, lakes = _at_once(settings, pg_dsn, s3, executor)
    assert all(isinstance(r, SyncReport) for r in results), results
    keys = Counter(k for lake in lakes for k in lake.keys)
    assert keys == Counter({("artists", "A1"): 1, ("artists", "A2"): 1,
                            ("fans", "F1"): 1, ("fans", "F2"): 1})  # fmt: skip
    replaced = Counter(b for lake in lakes for b in lake.buckets)
    assert set(replaced.values()) == {1}
    first, second = sorted(results, key=lambda r: len(r.updated), reverse=True)
    assert first.updated == [f"{schema}.artists: every bucket replaced, 2 row(s) copied",
                             f"{schema}.fans: every bucket replaced, 2 row(s) copied"]  # fmt: skip
    assert second.updated == []  # it found the first's digests
    assert f"{schema}.fans: unchanged since the last sync (2 bucket(s))" in second.skipped

    # a change to two fans (buckets e and 4) and a Glue object not merged yet
    more = write_csv(tmp_path / "more", "fans.csv", "fan_id,city,state,country\n"
                     "F1,Dallas,TX,US\nF3,Reno,NV,US\n")  # fmt: skip
    assert ingest_files(settings, [more])[0].status == "succeeded"
    glue = _glue_output(settings, s3, "jr_twice", [
        {"artist_id": "A1", "name": "Lanterns", "_line": 2, "_resolved": True},
        {"artist_id": "A3", "name": "Nova Lights", "_line": 3, "_resolved": True},
    ])  # fmt: skip
    uri = f"s3://{settings.lake_bucket}/{glue}"
    results, lakes = _at_once(settings, pg_dsn, s3, executor)
    assert all(isinstance(r, SyncReport) for r in results), results
    assert Counter(k for lake in lakes for k in lake.keys) == Counter(
        {("fans", "F1"): 1, ("fans", "F3"): 1})  # fmt: skip
    assert Counter(b for lake in lakes for b in lake.buckets) == Counter(
        {("fans", "e"): 1, ("fans", "4"): 1})  # fmt: skip
    assert sum(lake.copied.count(uri) for lake in lakes) == 1  # merged once
    with psycopg.connect(pg_dsn) as pg:
        for table in KEYS:
            _digests_match_rows(settings, pg, table)
        assert _rows(pg, f"SELECT count(*) FROM {schema}.encore_loads") == [(1,)]
        assert _rows(pg, f"SELECT artist_id, name, _origin FROM {schema}.artists ORDER BY 1") == [
            ("A1", "The Lanterns", "warehouse"), ("A2", "Mira Sol", "warehouse"),
            ("A3", "Nova Lights", "glue")]  # fmt: skip
        assert _rows(pg, f"SELECT count(*) FROM {schema}.encore_sync_lock") == [(0,)]  # released


SCHEDULER = "scheduler@etl-1 pid 4242 sync 5e1f"


def _held(connection: Any, schema: str) -> SyncLock:
    """The sync lock of `schema`, taken by the scheduler's sync (SCHEDULER) on `connection`."""
    import psycopg

    lock = SyncLock(DbApiExecutor(connection, errors=psycopg.Error), schema, dialect="postgres",
                    holder=SCHEDULER)  # fmt: skip
    lock.acquire()
    return lock


def test_a_sync_waits_a_bounded_time_then_names_the_sync_holding_the_lock(
    fresh_ingested: Settings, pg_dsn: str
) -> None:
    import psycopg

    settings = _settings(fresh_ingested, "held")
    schema = settings.redshift_schema
    s3 = aws_client("s3", settings)
    with psycopg.connect(pg_dsn) as scheduler_pg, psycopg.connect(pg_dsn) as pg:
        scheduler = _held(scheduler_pg, schema)
        executor = DbApiExecutor(CopyFromLake(pg, s3), errors=psycopg.Error)
        started = time.monotonic()
        with pytest.raises(WarehouseError) as info:
            load_warehouse(settings, executor=executor, s3=s3, dialect="postgres",
                           lock_wait_s=1.0, lock_poll_s=0.2)  # fmt: skip
        waited = time.monotonic() - started
        assert 1.0 <= waited < 10
        message = str(info.value)
        assert message.startswith(f"another Redshift sync holds the sync lock of schema {schema}: "
                                  "scheduler@etl-1 pid 4242 sync 5e1f, since ")  # fmt: skip
        assert info.value.detail["holder"] == "scheduler@etl-1 pid 4242 sync 5e1f"
        # it wrote nothing: no table of the warehouse's in Redshift
        tables = _rows(pg, "SELECT table_name FROM information_schema.tables "
                           f"WHERE table_schema = '{schema}'")  # fmt: skip
        assert tables == [("encore_sync_lock",)]

        scheduler.release()  # the scheduler's sync finished: the next one runs
        report = load_warehouse(settings, executor=executor, s3=s3, dialect="postgres",
                                lock_wait_s=1.0, lock_poll_s=0.2)  # fmt: skip
        assert f"{schema}.fans: every bucket replaced, 2 row(s) copied" in report.updated


def test_the_lock_of_a_sync_that_died_frees_itself_and_that_sync_writes_no_more(
    fresh_ingested: Settings, pg_dsn: str
) -> None:
    import psycopg

    settings = _settings(fresh_ingested, "died")
    s3 = aws_client("s3", settings)
    with psycopg.connect(pg_dsn) as dead_pg, psycopg.connect(pg_dsn) as pg:
        # a sync whose lease has run out (it hung, or its machine went away)
        dead = SyncLock(DbApiExecutor(dead_pg, errors=psycopg.Error), settings.redshift_schema,
                        dialect="postgres", lease_s=0, holder="gone@etl-2 pid 1")  # fmt: skip
        dead.acquire()
        executor = DbApiExecutor(CopyFromLake(pg, s3), errors=psycopg.Error)
        report = load_warehouse(settings, executor=executor, s3=s3, dialect="postgres",
                                lock_wait_s=1.0, lock_poll_s=0.2)  # fmt: skip
        assert report.updated  # it took the lock over without waiting out its wait
        # the sync that died, coming back, may not write: its lock passed to another meanwhile
        with pytest.raises(WarehouseError, match=r"lost the sync lock .* held now by nobody"):
            dead.check()


def test_a_write_after_half_the_lease_renews_it(pg_dsn: str) -> None:
    import psycopg

    now = [0.0]
    with psycopg.connect(pg_dsn) as pg:
        lock = SyncLock(DbApiExecutor(pg, errors=psycopg.Error), "renew_check",
                        dialect="postgres", lease_s=600, clock=lambda: now[0])  # fmt: skip
        lock.acquire()
        expiry = "SELECT expires_at FROM renew_check.encore_sync_lock"
        [(first,)] = _rows(pg, expiry)
        now[0] = 200.0  # a third of the lease: still safe, no round trip
        lock.check()
        assert _rows(pg, expiry) == [(first,)]
        time.sleep(0.01)  # the database's clock moves on too
        now[0] = 301.0  # past half: renewed for another 600 s from now
        lock.check()
        [(renewed,)] = _rows(pg, expiry)
        assert renewed > first
        lock.release()
        assert _rows(pg, "SELECT count(*) FROM renew_check.encore_sync_lock") == [(0,)]


class RedshiftDataApiOnPostgres(DataApiOnPostgres):
    """DataApiOnPostgres reading each statement as Redshift's SQL: `encore aws sync` writes for
    Redshift (GETDATE(), VARCHAR(MAX)), PostgreSQL runs it."""

    def _run(self, statements: list[str]) -> dict[str, str]:
        return super()._run([_postgres(sql) for sql in statements])


def _postgres(redshift_sql: str) -> str:
    unbounded = redshift_sql.replace("VARCHAR(MAX)", "VARCHAR")  # sqlglot keeps the MAX
    return sqlglot.transpile(unbounded, read="redshift", write="postgres")[0]


def test_encore_aws_sync_waits_for_a_held_lock_only_as_long_as_its_setting_says(
    fresh_ingested: Settings, pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg
    from typer.testing import CliRunner

    from pipelines.aws import redshift
    from pipelines.aws.commands import app

    from .test_commands import _env

    settings = _settings(fresh_ingested, "wait_setting")
    schema = settings.redshift_schema
    _env(monkeypatch, settings)
    for name, value in {"WORKGROUP": "encore", "IAM_ROLE": str(settings.redshift_iam_role),
                        "SCHEMA": schema, "LOCK_WAIT_S": "0.5"}.items():  # fmt: skip
        monkeypatch.setenv(f"ENCORE_REDSHIFT_{name}", value)
    s3 = aws_client("s3", settings)
    with psycopg.connect(pg_dsn) as scheduler_pg, psycopg.connect(pg_dsn) as pg:
        scheduler = _held(scheduler_pg, schema)
        data_api = RedshiftDataApiOnPostgres(Copies(pg, s3))
        monkeypatch.setattr(
            redshift, "client", lambda service, _: data_api if service == "redshift-data" else s3
        )
        # the scheduler's sync ends after 20 s: a sync that ignored the setting (600 s by
        # default) would take the lock then instead of failing
        finished = threading.Timer(20.0, scheduler.release)
        finished.start()
        try:
            started = time.monotonic()
            result = CliRunner().invoke(app, ["sync", "--warehouse"], terminal_width=1000)
            waited = time.monotonic() - started
        finally:
            finished.cancel()
            scheduler.release()
    output = " ".join(result.output.split())
    assert result.exit_code == 1, output
    assert f"another Redshift sync holds the sync lock of schema {schema}: {SCHEDULER}, since " in (
        output
    )
    assert "waited 0.5 s" in output
    assert waited < 10
    assert "failed steps: warehouse" in output
