"""The Spark ETL deployed as an AWS Glue job, run on a schedule (DESIGN §3, requirement 7.2).

    deploy    upload glue_job.py and a zip of the encore packages it imports to the lake bucket
              (s3://<bucket>/_glue/), create or update the Glue job (GlueVersion 5.0, Python 3,
              the zip as --extra-py-files, pinned --additional-python-modules) and its scheduled
              trigger (cron), each idempotent: what is up to date is left alone
    run       start a job run for one raw partition and poll it until it ends or times out (a run
              that times out is stopped)
    publish   the warehouse's entity_map, and the ids it holds, as curated/entity_map/ (the job
              checks foreign keys and applies known links against it; both commands publish it)
    record    a finished run's manifest (_glue/runs/<run id>.json, written by the job) into the
              run ledger (one run per raw file, pipeline "glue_etl", with the objects it wrote
              and their columns, which `encore aws sync --warehouse` loads) and the local catalog
              (the curated datasets it wrote), so `encore pipeline status` and the Glue catalog
              sync see Glue's output as they see the ingest's

Every AWS call goes through core.aws.aws_call, so errors name what failed and how to fix it.
"""

from __future__ import annotations

import io
import logging
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from core.aws import SyncReport, aws_call, error_code, require
from core.errors import AwsError, ConfigError
from core.settings import Settings

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

GLUE_VERSION: Final = "5.0"
PREFIX: Final = "_glue"
"""Where the job's code lives in the lake bucket (beside raw/ and curated/)."""
PACKAGES: Final = ("core", "pipelines")
MODULES: Final = ("pydantic", "pydantic-settings", "python-dotenv", "sqlglot", "duckdb",
                  "defusedxml")  # fmt: skip
"""What the job imports beyond Glue 5.0's own (pyspark, pyarrow, numpy), pinned to the versions
the tests ran: the transforms are checked against DuckDB with exactly these."""
ENTITY_MAP_KEY: Final = "curated/entity_map/entity_map.parquet"
MANIFESTS: Final = "_glue/runs"
"""Where the job writes each run's manifest (glue_job.MANIFESTS; that module imports no encore
code at load, so the name is kept in both)."""
PIPELINE: Final = "glue_etl"
_PUBLISHED_IDS: Final = (
    ("artist", "artists", "artist_id"),
    ("venue", "venues", "venue_id"),
    ("concert", "concerts", "concert_id"),
    ("fan", "fans", "fan_id"),
)
_DONE: Final = "SUCCEEDED"
_ENDED: Final = ("FAILED", "ERROR", "TIMEOUT", "STOPPED", "EXPIRED")
_ROOT: Final = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class EtlJob:
    """The Glue job and its trigger, as deployed."""

    name: str
    role: str  # IAM role ARN the job runs as (reads raw/, writes curated/ in the bucket)
    bucket: str
    source: str = "files"
    schedule: str | None = "cron(15 * * * ? *)"  # hourly; None: no trigger
    worker_type: str = "G.1X"
    workers: int = 2
    timeout_min: int = 60
    max_quarantine_rate: float = 0.5
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def script_key(self) -> str:
        return f"{PREFIX}/{self.name}/glue_job.py"

    @property
    def package_key(self) -> str:
        return f"{PREFIX}/{self.name}/encore.zip"

    @property
    def trigger(self) -> str:
        return f"{self.name}-schedule"

    def arguments(self) -> dict[str, str]:
        """The job's default arguments (a run may override --dt and the others)."""
        return {
            "--lake": f"s3://{self.bucket}",
            "--source": self.source,
            "--dt": "today",  # a scheduled run takes the day's partition
            "--max_quarantine_rate": str(self.max_quarantine_rate),
            "--extra-py-files": f"s3://{self.bucket}/{self.package_key}",
            "--additional-python-modules": additional_modules(),
            "--job-language": "python",
            **self.extra,
        }

    def definition(self) -> dict[str, Any]:
        """create_job's arguments but Name (update_job takes them as JobUpdate)."""
        return {
            "Role": self.role,
            "Command": {
                "Name": "glueetl",
                "ScriptLocation": f"s3://{self.bucket}/{self.script_key}",
                "PythonVersion": "3",
            },
            "DefaultArguments": self.arguments(),
            "GlueVersion": GLUE_VERSION,
            "WorkerType": self.worker_type,
            "NumberOfWorkers": self.workers,
            "Timeout": self.timeout_min,
            "MaxRetries": 0,  # the run is idempotent; the next schedule retries
            "ExecutionProperty": {"MaxConcurrentRuns": 1},  # runs never overlap
            "Description": "Encore ETL: raw lake partition -> curated Parquet + quarantine",
        }


def additional_modules() -> str:
    """`--additional-python-modules`: MODULES pinned to the installed versions."""
    pins = []
    for name in MODULES:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pins.append(name)
    return ",".join(pins)


def build_package(root: Path = _ROOT) -> bytes:
    """A zip of the encore packages the job imports (--extra-py-files), sources only.

    Entries are written in sorted order with a fixed timestamp, so the same code gives the same
    bytes and an unchanged package is not uploaded again.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for package in PACKAGES:
            for path in sorted((root / package).rglob("*")):
                if path.is_file() and path.suffix in {".py", ".sql", ".csv", ".json"}:
                    if "__pycache__" in path.parts:
                        continue
                    info = zipfile.ZipInfo(str(path.relative_to(root)), (2020, 1, 1, 0, 0, 0))
                    info.compress_type = zipfile.ZIP_DEFLATED
                    archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def _upload(s3: Any, bucket: str, key: str, body: bytes, report: SyncReport) -> None:
    """Put `body` at `key` unless the object there already has the same content."""
    import hashlib

    from botocore.exceptions import ClientError

    digest = hashlib.sha256(body).hexdigest()
    with aws_call(f"read s3://{bucket}/{key}", key=key):
        try:
            head = s3.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if error_code(exc) not in {"404", "NoSuchKey", "NotFound"}:
                raise
            head = None
    if head is not None and head.get("Metadata", {}).get("sha256") == digest:
        report.skipped.append(f"s3://{bucket}/{key}: up to date")
        return
    with aws_call(f"upload s3://{bucket}/{key}", key=key):
        s3.put_object(Bucket=bucket, Key=key, Body=body, Metadata={"sha256": digest})
    (report.updated if head else report.created).append(f"s3://{bucket}/{key}")


def _contains(actual: Any, wanted: Any) -> bool:
    if isinstance(wanted, Mapping):
        return isinstance(actual, Mapping) and all(_contains(actual.get(k), v)
                                                   for k, v in wanted.items())  # fmt: skip
    return bool(actual == wanted)


def _get(action: str, call: Any, missing: str, **kwargs: Any) -> dict[str, Any] | None:
    """The reply of a get call, or None when AWS answers `missing` (its "not found")."""
    from botocore.exceptions import ClientError

    with aws_call(action, **kwargs):
        try:
            return dict(call(**kwargs))
        except ClientError as exc:
            if error_code(exc) == missing:
                return None
            raise


def deploy(job: EtlJob, *, glue: Any, s3: Any, script: Path | None = None) -> SyncReport:
    """Upload the code, create or update the job and its trigger; see the module docstring."""
    report = SyncReport("etl")
    script = script or Path(__file__).with_name("glue_job.py")
    _upload(s3, job.bucket, job.script_key, script.read_bytes(), report)
    _upload(s3, job.bucket, job.package_key, build_package(), report)

    wanted = job.definition()
    found = _get(f"read Glue job {job.name}", glue.get_job, "EntityNotFoundException",
                 JobName=job.name)  # fmt: skip
    if found is None:
        with aws_call(f"create Glue job {job.name}", job=job.name):
            glue.create_job(Name=job.name, **wanted)
        report.created.append(f"job {job.name}")
    elif _contains(found["Job"], wanted):
        report.skipped.append(f"job {job.name}: up to date")
    else:
        with aws_call(f"update Glue job {job.name}", job=job.name):
            glue.update_job(JobName=job.name, JobUpdate=wanted)
        report.updated.append(f"job {job.name}")
    _sync_trigger(job, glue, report)
    return report


def _sync_trigger(job: EtlJob, glue: Any, report: SyncReport) -> None:
    found = _get(f"read Glue trigger {job.trigger}", glue.get_trigger, "EntityNotFoundException",
                 Name=job.trigger)  # fmt: skip
    if job.schedule is None:
        if found is not None:
            with aws_call(f"delete Glue trigger {job.trigger}", trigger=job.trigger):
                glue.delete_trigger(Name=job.trigger)
            report.deleted.append(f"trigger {job.trigger}")
        return
    actions = [{"JobName": job.name}]
    if found is None:
        with aws_call(f"create Glue trigger {job.trigger}", trigger=job.trigger):
            glue.create_trigger(
                Name=job.trigger, Type="SCHEDULED", Schedule=job.schedule, Actions=actions,
                StartOnCreation=True, Description=f"runs {job.name} on {job.schedule}",
            )  # fmt: skip
        report.created.append(f"trigger {job.trigger} ({job.schedule})")
        return
    current = found["Trigger"]
    if current.get("Schedule") == job.schedule and current.get("Actions") == actions:
        report.skipped.append(f"trigger {job.trigger}: up to date")
        return
    with aws_call(f"update Glue trigger {job.trigger}", trigger=job.trigger):
        glue.update_trigger(
            Name=job.trigger, TriggerUpdate={"Schedule": job.schedule, "Actions": actions}
        )
    report.updated.append(f"trigger {job.trigger} ({job.schedule})")


def start_run(glue: Any, name: str, arguments: Mapping[str, str] | None = None) -> str:
    """Start a run of the job (arguments override its defaults, e.g. {"--dt": "2026-11-27"})."""
    with aws_call(f"start Glue job {name}", job=name,
                  hint="; deploy it first with `encore aws etl deploy`"):  # fmt: skip
        reply = glue.start_job_run(JobName=name, Arguments=dict(arguments or {}))
    return str(reply["JobRunId"])


def wait_for_run(
    glue: Any,
    name: str,
    run_id: str,
    *,
    timeout_s: float = 3600.0,
    poll_s: float = 15.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll the run until it succeeds; raise AwsError when it ends otherwise or times out (the
    run is then stopped, not left running)."""
    deadline = clock() + timeout_s
    while True:
        with aws_call(f"read Glue job run {name}/{run_id}", job=name, run_id=run_id):
            run = dict(glue.get_job_run(JobName=name, RunId=run_id)["JobRun"])
        state = str(run.get("JobRunState", "UNKNOWN"))
        if state == _DONE:
            return run
        if state in _ENDED:
            raise AwsError(
                f"Glue job {name} run {run_id} {state.lower()}: "
                f"{run.get('ErrorMessage', 'no error message')} (see its CloudWatch logs)",
                job=name, run_id=run_id, state=state,
            )  # fmt: skip
        remaining = deadline - clock()
        if remaining <= 0:
            with aws_call(f"stop Glue job run {name}/{run_id}", job=name, run_id=run_id):
                glue.batch_stop_job_run(JobName=name, JobRunIds=[run_id])
            raise AwsError(
                f"Glue job {name} run {run_id} did not finish within {timeout_s:g} s (last "
                f"state {state}) and was stopped; raise --timeout or look at the run's logs",
                job=name, run_id=run_id, state=state,
            )  # fmt: skip
        sleep(min(poll_s, remaining))


def etl_job(settings: Settings, *, role: str | None, name: str, schedule: str | None,
            source: str = "files") -> EtlJob:  # fmt: skip
    """The job the settings and CLI options describe (the lake bucket is required)."""
    require(settings, "lake_bucket")
    if not role:
        raise ConfigError("pass --role: the IAM role ARN the Glue job runs as")
    return EtlJob(name=name, role=role, bucket=str(settings.lake_bucket), source=source,
                  schedule=schedule)  # fmt: skip


# -- what the job reads from the warehouse, and what it wrote back -----------------------------


def publish_entity_map(con: duckdb.DuckDBPyConnection, s3: Any, bucket: str) -> SyncReport:
    """Upload the warehouse's links and ids to `curated/entity_map/` (unchanged: not uploaded).

    Columns entity_type, source, source_key, canonical_id: every `entity_map` link, then one row
    with no source per artist, venue, concert and fan the warehouse holds, so a reference to an
    id the warehouse has passes on Glue as it does in the ingest.
    """
    import pyarrow.parquet as pq

    listed = " UNION ALL ".join(
        f"SELECT '{kind}', NULL, NULL, {key} FROM {table}" for kind, table, key in _PUBLISHED_IDS
    )
    query = (
        "SELECT entity_type, source, source_key, canonical_id FROM entity_map "
        f"UNION ALL {listed} ORDER BY ALL"
    )
    report = SyncReport("entity map")
    buffer = io.BytesIO()  # written here: the locked-down reader may not write files
    pq.write_table(con.sql(query).to_arrow_table(), buffer, compression="zstd")
    _upload(s3, bucket, ENTITY_MAP_KEY, buffer.getvalue(), report)
    return report


def read_manifest(s3: Any, bucket: str, run_id: str) -> dict[str, Any] | None:
    """The manifest the job wrote for `run_id`, or None when there is none (it failed early)."""
    import json

    key = f"{MANIFESTS}/{run_id}.json"
    found = _get(f"read s3://{bucket}/{key}", s3.get_object, "NoSuchKey", Bucket=bucket, Key=key)
    return None if found is None else dict(json.loads(found["Body"].read()))


def record_run(con: duckdb.DuckDBPyConnection, manifest: Mapping[str, Any], bucket: str) -> int:
    """Record a finished Glue run in the run ledger and the local catalog; return the files
    recorded (0 when this run was recorded before: the catalog's row counts add up per run)."""
    from core.warehouse import transaction
    from pipelines.catalog import record_dataset
    from pipelines.ledger import RunLedger

    glue_run = str(manifest["run_id"])
    seen = con.execute(
        "SELECT count(*) FROM pipeline_runs, unnest(CAST(inputs AS JSON[])) AS t(input) "
        "WHERE pipeline = ? AND input->>'glue_run_id' = ?",
        [PIPELINE, glue_run],
    ).fetchone()
    if seen and seen[0]:
        return 0
    ledger = RunLedger(con)
    day = f"dt={manifest['dt']}"
    for file in manifest["files"]:
        inputs = [{"raw_uri": file["uri"], "glue_run_id": glue_run, "outputs": file["outputs"],
                   "datasets": file["datasets"]}]  # fmt: skip
        run = ledger.start(PIPELINE, str(manifest["source"]), file["entity"] or None, inputs)
        run.records_in, run.accepted = int(file["rows"]), int(file["accepted"])
        run.quarantined = int(file["quarantined"])
        with transaction(con):
            for dataset, columns in file["datasets"].items():
                rows = run.quarantined if dataset == "quarantine" else run.accepted
                record_dataset(
                    con, f"curated/{dataset}", zone="curated",
                    location=f"s3://{bucket}/curated/{dataset}", fmt="parquet", schema=columns,
                    partitions=[day], rows=rows,
                )  # fmt: skip
            ok = file["status"] == "succeeded"
            ledger.finish(run, "succeeded" if ok else "failed", error=file["message"] or None)
    return len(manifest["files"])
