"""The lake engine at scale: the guard's SQL on Amazon Athena over the Glue catalog.

Chosen when the lake is on S3 (`ENCORE_LAKE_BUCKET`). The relations are the curated datasets
the local catalog knows on S3, which `encore aws sync` registers in Glue as
`<glue_database>.<entity>`; the guard checks the query as it does locally, then the checked
DuckDB SQL is rewritten to the Glue names and transpiled to Athena's (Trino) dialect by sqlglot.
The query is polled until it finishes; past the time limit it is stopped. `raw_files` is not
offered: raw objects are not in Glue (S3 Intelligent-Tiering watches their access there).
"""

from __future__ import annotations

import json
import time
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from sqlglot import exp

from core.aws import aws_call, client
from core.errors import WarehouseError
from core.warehouse import reading
from tools.context import ToolContext
from tools.query.guard import Checked, Schema
from tools.query.lake_names import CURATED_PREFIX
from tools.query.router import EngineName
from tools.query.runner import Fetched, QueryTimeoutError

_DONE: Final = ("SUCCEEDED", "FAILED", "CANCELLED")
_INTS: Final = ("tinyint", "smallint", "integer", "int", "bigint")
_FLOATS: Final = ("double", "float", "real")


def _value(text: str | None, athena_type: str) -> Any:
    """An Athena result cell (always text) as the Python value of its column type."""
    if text is None:
        return None
    kind = athena_type.lower().split("(")[0]
    if kind in _INTS:
        return int(text)
    if kind in _FLOATS:
        return float(text)
    if kind == "decimal":
        return Decimal(text)
    if kind == "boolean":
        return text.lower() == "true"
    if kind == "date":
        return date.fromisoformat(text)
    if kind.startswith("timestamp"):
        return datetime.fromisoformat(text)
    return text


class AthenaEngine:
    """Guarded lake queries on Athena, polled with a timeout."""

    name: EngineName = "lake"

    def __init__(self, ctx: ToolContext, *, athena: Any = None, poll_s: float = 0.05) -> None:
        self.settings = ctx.settings
        self.bucket = ctx.settings.lake_bucket
        self.database = ctx.settings.glue_database
        self.client = athena or client("athena", ctx.settings)
        self.poll_s = poll_s
        self.output = f"s3://{self.bucket}/athena-results/"

    def schema(self) -> Schema:
        """The curated datasets on S3 in the local catalog (the source Glue is synced from)."""
        with reading(self.settings) as con:
            rows = con.execute(
                "SELECT dataset, schema FROM data_catalog WHERE zone = 'curated' "
                "AND location LIKE 's3://%' ORDER BY dataset"
            ).fetchall()
        main: dict[str, dict[str, str]] = {}
        for dataset, columns in rows:
            parsed = json.loads(columns) if isinstance(columns, str) else dict(columns)
            main[f"{CURATED_PREFIX}{str(dataset).split('/', 1)[-1]}"] = {**parsed, "dt": "DATE"}
        return {"main": main}

    def athena_sql(self, checked: Checked) -> str:
        """The checked query with Glue table names, in Athena's dialect."""
        tree = checked.expression.copy()
        for table in tree.find_all(exp.Table):
            if table.name.lower().startswith(CURATED_PREFIX):
                glue = exp.table_(
                    table.name.lower().removeprefix(CURATED_PREFIX),
                    db=self.database,
                    alias=table.alias or table.name,
                )
                table.replace(glue)
        return tree.sql("athena")

    def run(self, checked: Checked, timeout_s: float) -> Fetched:
        sql = self.athena_sql(checked)
        with aws_call("start an Athena query", error=WarehouseError, sql=sql):
            query_id = self.client.start_query_execution(
                QueryString=sql,
                QueryExecutionContext={"Database": self.database},
                ResultConfiguration={"OutputLocation": self.output},
            )["QueryExecutionId"]
        self._wait(query_id, sql, timeout_s)
        return self._results(query_id, checked.fetch, sql)

    def _wait(self, query_id: str, sql: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        delay = self.poll_s
        while True:
            with aws_call("poll an Athena query", error=WarehouseError, sql=sql):
                status = self.client.get_query_execution(QueryExecutionId=query_id)[
                    "QueryExecution"
                ]["Status"]
            state = status["State"]
            if state == "SUCCEEDED":
                return
            if state in _DONE:
                reason = status.get("StateChangeReason", state.lower())
                raise WarehouseError(f"the Athena query failed: {reason}", sql=sql)
            if time.monotonic() >= deadline:
                with aws_call("stop an Athena query", error=WarehouseError, sql=sql):
                    self.client.stop_query_execution(QueryExecutionId=query_id)
                raise QueryTimeoutError(
                    f"the query ran longer than {timeout_s:g} s on Athena and was stopped; "
                    "filter on dt (the partition) or aggregate",
                    sql=sql,
                )
            time.sleep(delay)
            delay = min(delay * 2, 1.0)

    def _results(self, query_id: str, fetch: int, sql: str) -> Fetched:
        columns: list[str] = []
        types: list[str] = []
        rows: list[tuple[Any, ...]] = []
        token: str | None = None
        header = True  # the first row of the first page names the columns
        while len(rows) < fetch:
            args: dict[str, Any] = {"QueryExecutionId": query_id, "MaxResults": 1000}
            if token:
                args["NextToken"] = token
            with aws_call("read Athena query results", error=WarehouseError, sql=sql):
                page = self.client.get_query_results(**args)
            result = page["ResultSet"]
            if not columns:
                info = result["ResultSetMetadata"]["ColumnInfo"]
                columns = [c["Name"] for c in info]
                types = [c["Type"] for c in info]
            for row in result["Rows"]:
                cells = [d.get("VarCharValue") for d in row["Data"]]
                if header:
                    header = False
                    if cells == columns:
                        continue
                rows.append(tuple(_value(v, t) for v, t in zip(cells, types, strict=True)))
            token = page.get("NextToken")
            if not token:
                break
        return Fetched(columns, rows[:fetch])

    def close(self) -> None:
        """Nothing held open between queries."""
