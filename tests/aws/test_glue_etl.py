"""Deploying and running the Spark ETL as a Glue job, against moto's server.

moto stores the uploaded code, the job, the trigger and the runs, and answers get_job_run; it does
not execute the script (the script itself runs on a local Spark in test_spark.py). moto lacks
update_job: the test client applies a JobUpdate by deleting and recreating the job on moto. The
polling is tested on moto's run states and, for the outcomes moto never reaches, on a scripted
client.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from core.errors import AwsError, ConfigError
from core.settings import Settings
from pipelines.aws.commands import app
from pipelines.aws.glue_etl import (
    GLUE_VERSION,
    EtlJob,
    build_package,
    deploy,
    etl_job,
    start_run,
    wait_for_run,
)

from .conftest import aws_client

ROLE = "arn:aws:iam::123456789012:role/encore-glue-etl"


class MotoGlue:
    """moto's Glue client, with update_job and update_trigger (which moto does not implement) as
    delete + create."""

    def __init__(self, glue: Any) -> None:
        self.glue = glue
        self.updates: list[str] = []

    def update_job(self, JobName: str, JobUpdate: dict[str, Any]) -> None:  # noqa: N803
        self.glue.delete_job(JobName=JobName)
        self.glue.create_job(Name=JobName, **JobUpdate)
        self.updates.append(JobName)

    def update_trigger(self, Name: str, TriggerUpdate: dict[str, Any]) -> None:  # noqa: N803
        self.glue.delete_trigger(Name=Name)
        self.glue.create_trigger(Name=Name, Type="SCHEDULED", **TriggerUpdate)
        self.updates.append(Name)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.glue, name)


def _job(settings: Settings, name: str = "encore-etl-test") -> EtlJob:
    return etl_job(settings, role=ROLE, name=name, schedule="cron(15 * * * ? *)")


def test_deploy_uploads_code_and_creates_the_job_and_its_schedule(s3_settings: Settings) -> None:
    glue, s3 = MotoGlue(aws_client("glue", s3_settings)), aws_client("s3", s3_settings)
    job = _job(s3_settings)

    first = deploy(job, glue=glue, s3=s3)

    bucket = s3_settings.lake_bucket
    assert first.created == [
        f"s3://{bucket}/_glue/encore-etl-test/glue_job.py",
        f"s3://{bucket}/_glue/encore-etl-test/encore.zip",
        "job encore-etl-test",
        "trigger encore-etl-test-schedule (cron(15 * * * ? *))",
    ]
    stored = glue.get_job(JobName="encore-etl-test")["Job"]
    assert stored["GlueVersion"] == GLUE_VERSION == "5.0"
    assert stored["Command"]["Name"] == "glueetl" and stored["Command"]["PythonVersion"] == "3"
    assert stored["Command"]["ScriptLocation"] == f"s3://{bucket}/_glue/encore-etl-test/glue_job.py"
    arguments = stored["DefaultArguments"]
    assert arguments["--lake"] == f"s3://{bucket}" and arguments["--dt"] == "today"
    assert arguments["--extra-py-files"] == f"s3://{bucket}/_glue/encore-etl-test/encore.zip"
    assert "sqlglot==" in arguments["--additional-python-modules"]
    trigger = glue.get_trigger(Name="encore-etl-test-schedule")["Trigger"]
    assert trigger["Type"] == "SCHEDULED" and trigger["Schedule"] == "cron(15 * * * ? *)"
    assert trigger["Actions"] == [{"JobName": "encore-etl-test"}]

    # the uploaded package holds the transforms the job imports
    body = s3.get_object(Bucket=bucket, Key="_glue/encore-etl-test/encore.zip")["Body"].read()
    names = zipfile.ZipFile(io.BytesIO(body)).namelist()
    assert "pipelines/aws/spark.py" in names and "pipelines/transforms/validate.py" in names
    assert "core/schemas.py" in names and not any("__pycache__" in n for n in names)

    again = deploy(job, glue=glue, s3=s3)
    assert not again.changed, again
    assert "job encore-etl-test: up to date" in again.skipped

    hourly = EtlJob(**{**job.__dict__, "schedule": "cron(0 6 * * ? *)", "workers": 4})
    changed = deploy(hourly, glue=glue, s3=s3)
    assert changed.updated == [
        "job encore-etl-test",
        "trigger encore-etl-test-schedule (cron(0 6 * * ? *))",
    ]
    assert glue.updates == ["encore-etl-test", "encore-etl-test-schedule"]
    assert glue.get_trigger(Name="encore-etl-test-schedule")["Trigger"]["Schedule"] == (
        "cron(0 6 * * ? *)"
    )
    assert glue.get_job(JobName="encore-etl-test")["Job"]["NumberOfWorkers"] == 4


def test_the_package_is_the_same_bytes_for_the_same_code() -> None:
    assert build_package() == build_package()


def test_a_run_is_started_with_its_partition_and_polled(s3_settings: Settings) -> None:
    glue, s3 = aws_client("glue", s3_settings), aws_client("s3", s3_settings)
    deploy(_job(s3_settings, "encore-etl-runs"), glue=glue, s3=s3)

    run_id = start_run(glue, "encore-etl-runs", {"--dt": "2026-11-27"})
    run = glue.get_job_run(JobName="encore-etl-runs", RunId=run_id)["JobRun"]
    assert run["Arguments"]["--dt"] == "2026-11-27"
    # moto's runs report SUCCEEDED once polled; the real job takes minutes
    finished = wait_for_run(glue, "encore-etl-runs", run_id, timeout_s=30, poll_s=0.05)
    assert finished["JobRunState"] == "SUCCEEDED"


def test_starting_a_job_that_was_never_deployed_says_to_deploy(s3_settings: Settings) -> None:
    with pytest.raises(AwsError, match="start Glue job nowhere: EntityNotFoundException"):
        start_run(aws_client("glue", s3_settings), "nowhere")


class ScriptedRuns:
    """get_job_run answering the given states in turn; records stops."""

    def __init__(self, *states: str) -> None:
        self.states = list(states)
        self.stopped: list[str] = []

    def get_job_run(self, JobName: str, RunId: str) -> dict[str, Any]:  # noqa: N803
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return {"JobRun": {"JobRunState": state, "ErrorMessage": "ValueError: boom"}}

    def batch_stop_job_run(self, JobName: str, JobRunIds: list[str]) -> None:  # noqa: N803
        self.stopped.extend(JobRunIds)


def test_a_failed_run_raises_with_its_error() -> None:
    runs = ScriptedRuns("STARTING", "RUNNING", "FAILED")
    with pytest.raises(AwsError, match="run jr_1 failed: ValueError: boom"):
        wait_for_run(runs, "etl", "jr_1", poll_s=0, sleep=lambda _: None)
    assert runs.stopped == []


def test_a_run_past_the_timeout_is_stopped() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    runs = ScriptedRuns("RUNNING")
    with pytest.raises(AwsError, match=r"did not finish within 60 s \(last state RUNNING\)"):
        wait_for_run(runs, "etl", "jr_2", timeout_s=60, poll_s=15, clock=lambda: now[0],
                     sleep=sleep)  # fmt: skip
    assert runs.stopped == ["jr_2"] and now[0] == 60


def test_deploy_needs_the_bucket_and_a_role(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="ENCORE_LAKE_BUCKET"):
        etl_job(settings, role=ROLE, name="x", schedule=None)
    with pytest.raises(ConfigError, match="--role"):
        etl_job(settings.model_copy(update={"lake_bucket": "b"}), role="", name="x", schedule=None)


def test_cli_deploys_then_runs(s3_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCORE_DATA_DIR", str(s3_settings.data_dir))
    monkeypatch.setenv("ENCORE_LAKE_BUCKET", str(s3_settings.lake_bucket))
    monkeypatch.setenv("ENCORE_AWS_ENDPOINT_URL", str(s3_settings.aws_endpoint_url))
    runner = CliRunner()
    deployed = runner.invoke(app, ["etl", "deploy", "--role", ROLE, "--schedule", "none"],
                             terminal_width=200)  # fmt: skip
    assert deployed.exit_code == 0, deployed.output
    assert "created  job encore-etl" in deployed.output and "trigger" not in deployed.output

    ran = runner.invoke(app, ["etl", "run", "--dt", "2026-11-27", "--poll", "0.05"])
    assert ran.exit_code == 0, ran.output
    assert "started encore-etl run" in ran.output and "succeeded" in ran.output

    missing = runner.invoke(app, ["etl", "run", "--name", "absent"], terminal_width=200)
    assert missing.exit_code == 1 and "EntityNotFoundException" in missing.output


def test_the_package_alone_holds_the_code_the_job_imports(tmp_path: Path) -> None:
    package = tmp_path / "encore.zip"
    package.write_bytes(build_package())
    code = (
        "import pipelines.aws.glue_job, pipelines.aws.spark as spark; "
        "plan = spark.plan_transforms('fans', ['fan_id', 'Joined', '_line'], 'raw'); "
        "columns = {'raw': ['fan_id', 'Joined', '_line']}; "
        "print(spark.__file__, plan.mapping, len(spark.to_spark(plan.sql, columns=columns)) > 0)"
    )
    env = {**os.environ, "PYTHONPATH": str(package)}  # ahead of the editable install
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert done.stdout.startswith(f"{package}/pipelines/aws/spark.py")
    assert "{'fan_id': 'fan_id', 'Joined': 'signup_date'} True" in done.stdout
