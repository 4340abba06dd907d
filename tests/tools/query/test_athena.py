"""The lake engine at scale: guarded SQL transpiled for Athena, run and polled on moto's server."""

from __future__ import annotations

import csv
import json
import urllib.request
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import boto3
import pytest

from core.errors import QueryRefusedError
from core.settings import Settings
from pipelines.ingest import ingest_files
from tools.context import ToolContext
from tools.query.athena import AthenaEngine
from tools.query.guard import check
from tools.query.lake_engine import lake_policy
from tools.query.policy import load_policy
from tools.query.runner import QueryTimeoutError, run_sql

REGION = "us-east-1"


@pytest.fixture
def s3_lake(moto_endpoint: str, aws_env: None, tmp_path: Path) -> Settings:
    """A warehouse whose lake is a new moto bucket, with artists ingested into it."""
    bucket = f"encore-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", region_name=REGION, endpoint_url=moto_endpoint).create_bucket(Bucket=bucket)
    settings = Settings(
        data_dir=tmp_path / "encore", lake_bucket=bucket, aws_endpoint_url=moto_endpoint,
        aws_region=REGION, glue_database="concerts_lake",
    )  # fmt: skip
    path = tmp_path / "artists.csv"
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows([
            ["artist_id", "name", "genre", "country", "popularity", "followers"],
            ["A1", "The Lanterns", "rock", "US", "71", "120000"],
            ["A2", "Mira Sol", "pop", "MX", "88", "2400000"],
        ])  # fmt: skip
    [outcome] = ingest_files(settings, [path])
    assert outcome.status == "succeeded", outcome.message
    return settings


def _canned(endpoint: str, rows: list[list[str]], columns: list[tuple[str, str]]) -> None:
    """Queue the rows moto's Athena answers the next query with (header row first)."""
    body = {
        "account_id": "123456789012",
        "region": REGION,
        "results": [{
            "rows": [{"Data": [{"VarCharValue": v} for v in row]} for row in rows],
            "column_info": [{"Name": n, "Type": t} for n, t in columns],
        }],
    }  # fmt: skip
    request = urllib.request.Request(
        f"{endpoint}/moto-api/static/athena/query-results",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    opener.open(request, timeout=5).close()


def test_lake_queries_run_on_athena_when_the_lake_is_on_s3(
    s3_lake: Settings, moto_endpoint: str
) -> None:
    today = date.today().isoformat()
    _canned(moto_endpoint, [["dt", "n"], [today, "2"]], [("dt", "date"), ("n", "bigint")])
    ctx = ToolContext(s3_lake, user="tester", role="analyst")
    result = run_sql(ctx, "SELECT dt, count(*) AS n FROM curated_artists GROUP BY dt")
    assert (result.engine, result.rows) == ("lake", [[today, 2]])

    athena = boto3.client("athena", region_name=REGION, endpoint_url=moto_endpoint)
    [query_id, *_] = athena.list_query_executions()["QueryExecutionIds"]
    sent = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
    # the guard's SQL, with the Glue table in Athena's dialect, results beside the lake
    assert "FROM concerts_lake.artists AS curated_artists" in sent["Query"]
    assert "LIMIT 5001" in sent["Query"]
    assert sent["ResultConfiguration"]["OutputLocation"].startswith(
        f"s3://{s3_lake.lake_bucket}/athena-results/"
    )


def test_the_guard_runs_before_athena(s3_lake: Settings) -> None:
    ctx = ToolContext(s3_lake, user="tester", role="analyst")
    with pytest.raises(QueryRefusedError, match=r"(?i)read_csv"):
        run_sql(ctx, "SELECT * FROM read_csv('s3://other-bucket/x.csv')", engine="lake")
    with pytest.raises(QueryRefusedError, match="raw_files is not available"):
        run_sql(ctx, "SELECT name FROM raw_files", engine="lake")  # raw objects: not in Glue


class _Stuck:
    """An Athena client whose query never finishes (moto's always succeed at once)."""

    def __init__(self) -> None:
        self.stopped: list[str] = []

    def start_query_execution(self, **_: Any) -> dict[str, Any]:
        return {"QueryExecutionId": "q-1"}

    def get_query_execution(self, **_: Any) -> dict[str, Any]:
        return {"QueryExecution": {"Status": {"State": "RUNNING"}}}

    def stop_query_execution(self, QueryExecutionId: str) -> None:  # noqa: N803 - boto3's name
        self.stopped.append(QueryExecutionId)


def test_a_query_past_the_time_limit_is_stopped(s3_lake: Settings) -> None:
    ctx = ToolContext(s3_lake, user="tester", role="admin")
    stuck = _Stuck()
    engine = AthenaEngine(ctx, athena=stuck, poll_s=0.01)
    policy = lake_policy(load_policy())
    checked = check("SELECT count(*) FROM curated_artists", policy.role("admin"), policy,
                    engine.schema())  # fmt: skip
    with pytest.raises(QueryTimeoutError, match="stopped"):
        engine.run(checked, timeout_s=0.1)
    assert stuck.stopped == ["q-1"]
