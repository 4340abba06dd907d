"""How statements reach Redshift: the Data API (submitted, polled with a timeout, cancelled when
it passes) or any DB-API connection (psycopg, redshift_connector). Each `run` is one transaction:
a Data API batch, or the connection's transaction, rolled back on failure; errors become
WarehouseErrors naming the statement. One sync at a time per schema: `redshift_lock.SyncLock`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Protocol, runtime_checkable

from core.aws import aws_call
from core.errors import ConfigError, WarehouseError

log = logging.getLogger(__name__)

_DONE: Final = "FINISHED"
_FAILED: Final = ("FAILED", "ABORTED")


class TablePlan(Protocol):
    """What listing a table's columns needs of a plan (`redshift_plan.LoadPlan`)."""

    @property
    def target(self) -> str:
        """schema.table"""

    def columns_query(self) -> str:
        """The query of the table's column names."""


class Executor(Protocol):
    """Runs statements in order, in one transaction."""

    def run(self, statements: Sequence[str], *, label: str) -> None:
        """Run `statements`; raise WarehouseError naming `label` when one fails."""

    def query(self, sql: str, *, label: str) -> list[tuple[Any, ...]]:
        """The rows of one query."""


@runtime_checkable
class TableColumns(Protocol):
    """An executor that can list a table's columns (both below; test doubles need not)."""

    def table_columns(self, plan: TablePlan) -> set[str]:
        """The column names `plan`'s table has in the database."""


class _ListsColumns:
    """`table_columns` through the executor's own `query`."""

    def query(self, sql: str, *, label: str) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def table_columns(self, plan: TablePlan) -> set[str]:
        rows = self.query(plan.columns_query(), label=f"columns of {plan.target}")
        return {str(row[0]) for row in rows}


class DataApiExecutor(_ListsColumns):
    """The Redshift Data API: submit, then poll describe_statement until done or timed out."""

    def __init__(
        self,
        client: Any,
        *,
        database: str,
        workgroup: str | None = None,
        cluster_id: str | None = None,
        db_user: str | None = None,
        secret_arn: str | None = None,
        timeout_s: float = 300.0,
        poll_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not (workgroup or cluster_id):
            raise ConfigError("set ENCORE_REDSHIFT_WORKGROUP or ENCORE_REDSHIFT_CLUSTER_ID")
        self.client = client
        self.target: dict[str, str] = {"Database": database}
        if workgroup:
            self.target["WorkgroupName"] = workgroup
        else:
            self.target["ClusterIdentifier"] = str(cluster_id)
        if secret_arn:
            self.target["SecretArn"] = secret_arn
        elif db_user:
            self.target["DbUser"] = db_user
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self.clock = clock
        self.sleep = sleep

    def run(self, statements: Sequence[str], *, label: str) -> None:
        """One statement with execute_statement, several with batch_execute_statement."""
        with aws_call(f"submit Redshift statement {label!r}", statement=label):
            if len(statements) == 1:
                reply = self.client.execute_statement(
                    Sql=statements[0], StatementName=label[:500], **self.target
                )
            else:
                reply = self.client.batch_execute_statement(
                    Sqls=list(statements), StatementName=label[:500], **self.target
                )
        self.wait(str(reply["Id"]), label)

    def query(self, sql: str, *, label: str) -> list[tuple[Any, ...]]:
        """Run a query, wait for it, and page through its result."""
        with aws_call(f"submit Redshift query {label!r}", statement=label):
            reply = self.client.execute_statement(Sql=sql, StatementName=label[:500], **self.target)
        statement_id = str(reply["Id"])
        self.wait(statement_id, label)
        rows: list[tuple[Any, ...]] = []
        token: str | None = None
        with aws_call(f"read the result of Redshift query {label!r}", statement=label):
            while True:
                page = self.client.get_statement_result(
                    Id=statement_id, **({"NextToken": token} if token else {})
                )
                rows.extend(tuple(_field(f) for f in record) for record in page["Records"])
                token = page.get("NextToken")
                if not token:
                    return rows

    def wait(self, statement_id: str, label: str) -> dict[str, Any]:
        """Poll until the statement finishes; cancel it and raise when the timeout passes."""
        deadline = self.clock() + self.timeout_s
        while True:
            with aws_call(f"read the status of Redshift statement {label!r}", statement=label):
                described = dict(self.client.describe_statement(Id=statement_id))
            status = str(described.get("Status", "UNKNOWN"))
            if status == _DONE:
                return described
            if status in _FAILED:
                raise WarehouseError(
                    f"Redshift statement {label!r} {status.lower()}: {_failure(described)}",
                    statement=label,
                    statement_id=statement_id,
                    sql=described.get("QueryString"),
                )
            remaining = deadline - self.clock()
            if remaining <= 0:
                self._cancel(statement_id)
                raise WarehouseError(
                    f"Redshift statement {label!r} (id {statement_id}) did not finish within "
                    f"{self.timeout_s:g} s (last status {status}) and was cancelled; check the "
                    "workgroup or cluster, or raise ENCORE_REDSHIFT_TIMEOUT_S",
                    statement=label,
                    statement_id=statement_id,
                    status=status,
                )
            self.sleep(min(self.poll_s, remaining))

    def _cancel(self, statement_id: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.cancel_statement(Id=statement_id)
        except (BotoCoreError, ClientError) as exc:  # finished meanwhile, or already gone
            log.warning("could not cancel Redshift statement %s: %s", statement_id, exc)


def _field(field: Mapping[str, Any]) -> Any:
    """The value of a Data API result field ({"stringValue": "x"}, {"isNull": true}, ...)."""
    if field.get("isNull"):
        return None
    return next(iter(field.values()), None)


def _failure(described: Mapping[str, Any]) -> str:
    """The error of a failed statement; for a batch, the sub-statement that failed and its SQL."""
    for sub in described.get("SubStatements") or []:
        if isinstance(sub, Mapping) and sub.get("Status") in _FAILED:
            return f"{sub.get('Error', 'no error message')} in: {sub.get('QueryString', '?')}"
    return str(described.get("Error", "no error message"))


class DbApiExecutor(_ListsColumns):
    """Any DB-API connection (redshift_connector, psycopg): one transaction per `run`.

    `errors` is the driver's error base (e.g. `psycopg.Error`): those become WarehouseErrors.
    """

    def __init__(
        self, connection: Any, *, errors: tuple[type[Exception], ...] | type[Exception]
    ) -> None:
        self.connection = connection
        self.errors = errors

    def run(self, statements: Sequence[str], *, label: str) -> None:
        self._execute(statements, label=label, kind="statement")

    def query(self, sql: str, *, label: str) -> list[tuple[Any, ...]]:
        return self._execute([sql], label=label, kind="query", fetch=True)

    def _execute(
        self, statements: Sequence[str], *, label: str, kind: str, fetch: bool = False
    ) -> list[tuple[Any, ...]]:
        """Run `statements` in one transaction (rolled back on failure), rows of the last."""
        cursor = self.connection.cursor()
        current = ""
        try:
            for current in statements:
                cursor.execute(current)
            rows = [tuple(row) for row in cursor.fetchall()] if fetch else []
            self.connection.commit()
            return rows
        except self.errors as exc:
            self.connection.rollback()
            raise WarehouseError(
                f"Redshift {kind} {label!r} failed: {exc}", statement=label, sql=current
            ) from exc
        finally:
            cursor.close()
