"""`encore aws etl run` publishes the entity map, then records the Glue run's output locally.

On moto's server, which stores jobs and runs but never executes the script: the job's output
(curated Parquet and its run manifest) is put in the moto bucket as the job would write it,
while the CLI waits for the run. The job writing that manifest runs on Spark in
test_spark_integrity.py.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from core.settings import Settings
from core.warehouse import reading
from pipelines.aws import glue_etl
from pipelines.aws.commands import app
from pipelines.catalog import catalog
from pipelines.commands.common import pipeline_app

from .conftest import aws_client

ROLE = "arn:aws:iam::123456789012:role/encore-glue-etl"
DAY = "2026-11-27"
SALES = {"sale_id": "VARCHAR", "concert_id": "VARCHAR", "_line": "BIGINT",
         "_source": "VARCHAR", "_resolved": "BOOLEAN"}  # fmt: skip
QUARANTINE = {"run_id": "VARCHAR", "entity": "VARCHAR", "line_number": "BIGINT",
              "reasons": "VARCHAR[]"}  # fmt: skip


def _manifest(run_id: str, bucket: str) -> dict[str, Any]:
    """What glue_job.write_manifest writes for a partition of two files, one over its limit."""
    raw = f"s3://{bucket}/raw/source=files/dt={DAY}"
    return {"run_id": run_id, "source": "files", "dt": DAY, "files": [
        {"uri": f"{raw}/a-sales.csv", "entity": "ticket_sales", "rows": 4, "accepted": 3,
         "quarantined": 1, "status": "succeeded", "message": "",
         "outputs": [f"s3://{bucket}/curated/ticket_sales/dt={DAY}/a-sales-00000.parquet"],
         "datasets": {"quarantine": QUARANTINE, "ticket_sales": SALES}},
        {"uri": f"{raw}/b-fans.csv", "entity": "fans", "rows": 2, "accepted": 0,
         "quarantined": 2, "status": "failed", "message": "100% of the rows failed validation",
         "outputs": [], "datasets": {"quarantine": QUARANTINE}},
    ]}  # fmt: skip


def _job_ran(s3: Any, bucket: str, run_id: str) -> None:
    """Put the job's output in the bucket, as the Glue job writes it."""
    sales = pa.Table.from_pylist([{"sale_id": "S1", "concert_id": "C1", "_line": 2,
                                   "_source": "files", "_resolved": True}])  # fmt: skip
    body = io.BytesIO()
    pq.write_table(sales, body)
    key = f"curated/ticket_sales/dt={DAY}/a-sales-00000.parquet"
    s3.put_object(Bucket=bucket, Key=key, Body=body.getvalue())
    manifest = json.dumps(_manifest(run_id, bucket)).encode()
    s3.put_object(Bucket=bucket, Key=f"_glue/runs/{run_id}.json", Body=manifest)


def test_a_glue_run_lands_in_the_run_ledger_and_the_catalog(
    fresh_ingested: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = fresh_ingested
    bucket = str(settings.lake_bucket)
    for name, value in {"ENCORE_DATA_DIR": settings.data_dir, "ENCORE_LAKE_BUCKET": bucket,
                        "ENCORE_AWS_ENDPOINT_URL": settings.aws_endpoint_url}.items():  # fmt: skip
        monkeypatch.setenv(name, str(value))
    s3 = aws_client("s3", settings)
    waiting = glue_etl.wait_for_run

    def run_then_wait(glue: Any, name: str, run_id: str, **kwargs: Any) -> dict[str, Any]:
        _job_ran(s3, bucket, run_id)  # moto does not execute the script
        return waiting(glue, name, run_id, **kwargs)

    monkeypatch.setattr(glue_etl, "wait_for_run", run_then_wait)
    runner = CliRunner()
    job = ["--name", "encore-etl-catalog"]  # the moto server is the session's: a name of its own
    deployed = runner.invoke(app, ["etl", "deploy", "--role", ROLE, "--schedule", "none", *job],
                             terminal_width=200)  # fmt: skip
    assert deployed.exit_code == 0, deployed.output
    assert "curated/entity_map/entity_map.parquet" in "".join(deployed.output.split())

    ran = runner.invoke(app, ["etl", "run", "--dt", DAY, "--poll", "0.05", *job])

    assert ran.exit_code == 0, ran.output
    said = " ".join(ran.output.split())  # rich wraps long lines
    assert "entity_map.parquet: up to date" in said  # published at deploy, unchanged
    assert "recorded 2 file(s) in the run ledger" in said
    published = pq.read_table(
        io.BytesIO(
            s3.get_object(Bucket=bucket, Key="curated/entity_map/entity_map.parquet")["Body"].read()
        )
    ).to_pylist()
    assert {"entity_type": "artist", "source": None, "source_key": None,
            "canonical_id": "A1"} in published  # fmt: skip
    assert {"entity_type": "fan", "source": None, "source_key": None,
            "canonical_id": "F2"} in published  # fmt: skip
    assert any(r["source"] == "files" and r["source_key"] == "A1" for r in published)  # a link

    status = runner.invoke(pipeline_app, ["status", "--json"])
    runs = [r for r in json.loads(status.output)["runs"] if r["pipeline"] == "glue_etl"]
    assert sorted((r["entity"], r["status"], r["records_in"], r["accepted"], r["quarantined"])
                  for r in runs) == [("fans", "failed", 2, 0, 2),
                                     ("ticket_sales", "succeeded", 4, 3, 1)]  # fmt: skip
    [sales_run] = [r for r in runs if r["entity"] == "ticket_sales"]
    assert json.loads(sales_run["inputs"])[0]["raw_uri"].endswith("/a-sales.csv")
    with reading(settings) as con:
        entries = {e["dataset"]: e for e in catalog(con)}
    sales = entries["curated/ticket_sales"]
    assert sales["location"] == f"s3://{bucket}/curated/ticket_sales"
    assert json.loads(sales["schema"]) == SALES and sales["row_count"] == 3
    assert list(sales["partitions"]) == [f"dt={DAY}"]
    assert entries["curated/quarantine"]["row_count"] == 3  # both files' bad rows

    # the Glue catalog sync now registers what the job wrote
    from pipelines.aws.glue import sync_catalog

    sync_catalog(settings)
    table = aws_client("glue", settings).get_table(DatabaseName=settings.glue_database,
                                                   Name="ticket_sales")["Table"]  # fmt: skip
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == list(SALES)


def test_a_run_is_recorded_once(tmp_path: Path) -> None:
    from core.warehouse import writing

    manifest = _manifest("jr_once", "b")
    with writing(Settings(data_dir=tmp_path)) as con:
        assert glue_etl.record_run(con, manifest, "b") == 2
        assert glue_etl.record_run(con, manifest, "b") == 0  # e.g. `etl run` of the same run
        rows = con.execute(
            "SELECT row_count FROM data_catalog WHERE dataset = 'curated/ticket_sales'"
        ).fetchone()
    assert rows == (3,)
