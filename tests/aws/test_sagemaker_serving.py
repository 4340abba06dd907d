"""Forecasts served from SageMaker: the packaged handler run as the container runs it, reached
through boto3's sagemaker-runtime client, and the endpoint deployed on moto's server.

The handler test extracts the model.tar.gz that `encore aws sync --models` uploads, runs its
code/inference.py in a separate Python (sagemaker_container.py, the container contract) and routes
`POST /endpoints/<name>/invocations` to it from a loopback stand-in for the runtime API; the
forecasts must equal the local predictor's.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from core.errors import AwsError, ConfigError
from core.settings import Settings
from core.warehouse import reading
from models.forecast.train import MODEL_NAME, load_or_train
from models.registry import ModelNotTrainedError, ModelRegistry
from models.serving.bundle import serving_code
from models.serving.endpoint import Capacity, delete_endpoint, deploy_endpoint
from models.serving.runtime import SageMakerPredictor, runtime_client
from models.serving.sagemaker import package_artifact
from tests.conftest import copy_warehouse
from tools.context import ToolContext
from tools.insights.forecast import (
    PredictionRequest,
    predict_concerts,
    predict_ticket_sales_batch,
)

from .conftest import REGION, aws_client

ENDPOINT = "encore-sales-forecast"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/encore-sklearn:1.9"
ROLE = "arn:aws:iam::123456789012:role/encore-sagemaker"
CONTAINER = Path(__file__).with_name("sagemaker_container.py")


# ---- a loopback SageMaker: the container contract and the runtime API in front of it ----------


@dataclass
class Runtime:
    """Endpoint name -> container URL, and how many ModelNotReady answers each gives first."""

    endpoints: dict[str, str] = field(default_factory=dict)
    not_ready: dict[str, int] = field(default_factory=dict)
    calls: int = 0


def _runtime_handler(runtime: Runtime) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status: int, code: str, message: str, **extra: Any) -> None:
            body = json.dumps({"__type": code, "message": message, **extra}).encode()
            headers = {"Content-Type": "application/json", "x-amzn-ErrorType": code}
            self._answer(status, body, headers)

        def do_POST(self) -> None:
            runtime.calls += 1
            parts = self.path.strip("/").split("/")
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if len(parts) != 3 or parts[0] != "endpoints" or parts[2] != "invocations":
                self._error(404, "UnknownOperationException", self.path)
                return
            name = parts[1]
            if name not in runtime.endpoints:
                self._error(400, "ValidationError", f"Endpoint {name} of account 123 not found.")
                return
            if runtime.not_ready.get(name, 0) > 0:
                runtime.not_ready[name] -= 1
                self._error(429, "ModelNotReadyException", "Model is not ready yet")
                return
            request = urllib.request.Request(
                f"{runtime.endpoints[name]}/invocations",
                data=body,
                headers={
                    "Content-Type": self.headers["Content-Type"],
                    "Accept": self.headers.get("Accept", "application/json"),
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    self._answer(200, answer.read(), {
                        "Content-Type": answer.headers["Content-Type"],
                        "x-Amzn-Invoked-Production-Variant": "AllTraffic",
                    })  # fmt: skip
            except urllib.error.HTTPError as exc:
                original = exc.read().decode()
                self._error(
                    424,
                    "ModelError",
                    f"Received server error ({exc.code}) from primary with message {original}",
                    OriginalStatusCode=exc.code,
                    OriginalMessage=original,
                    LogStreamArn=f"arn:aws:logs:{REGION}:123:log-group:/aws/sagemaker/{name}",
                )

    return Handler


@dataclass
class Served:
    settings: Settings  # the trained warehouse, forecasting locally
    runtime: Runtime
    url: str
    container_log: str

    def remote(self, endpoint: str = ENDPOINT) -> Settings:
        return self.settings.model_copy(
            update={
                "predictor": "sagemaker",
                "sagemaker_endpoint": endpoint,
                "aws_endpoint_url": self.url,
            }
        )


@pytest.fixture(scope="module")
def served(
    trained_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """The forecaster's champion packaged as for SageMaker, served by a container process."""
    base = tmp_path_factory.mktemp("sagemaker-serving")
    settings = copy_warehouse(trained_warehouse, base, models=True)
    champion = ModelRegistry(settings).current(MODEL_NAME)
    assert champion is not None
    artifact = package_artifact(
        settings.models_dir / MODEL_NAME / champion.version, serving_code(MODEL_NAME)
    )
    model_dir = base / "opt-ml-model"
    with tarfile.open(fileobj=io.BytesIO(artifact), mode="r:gz") as tar:
        tar.extractall(model_dir, filter="data")
    env = {
        "PATH": "/usr/bin:/bin",
        "SAGEMAKER_PROGRAM": "inference.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": str(model_dir / "code"),
    }
    container = subprocess.Popen(
        [sys.executable, str(CONTAINER), str(model_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=model_dir,
    )
    assert container.stdout is not None
    log = []
    while not (line := container.stdout.readline()).startswith("listening on"):
        log.append(line)
        assert line or container.poll() is None, "".join(log)
        if not line:
            pytest.fail(f"the container stopped: {''.join(log)}")
    container_url = f"http://127.0.0.1:{line.split()[-1]}"
    with urllib.request.urlopen(f"{container_url}/ping", timeout=5) as ping:
        assert ping.status == 200
    runtime = Runtime(endpoints={ENDPOINT: container_url})
    server = ThreadingHTTPServer(("127.0.0.1", 0), _runtime_handler(runtime))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield Served(
            settings, runtime, f"http://127.0.0.1:{server.server_address[1]}", "".join(log)
        )
    finally:
        server.shutdown()
        container.terminate()
        container.wait(timeout=10)


def _pairs(settings: Settings) -> list[PredictionRequest | dict[str, Any]]:
    """Known artist-venue pairs and a new pairing, on future dates, with and without a price."""
    with reading(settings) as con:
        artists = [
            r[0]
            for r in con.execute("SELECT name FROM artists ORDER BY artist_id LIMIT 4").fetchall()
        ]
        venues = [
            r[0]
            for r in con.execute("SELECT name FROM venues ORDER BY venue_id LIMIT 3").fetchall()
        ]
    return [
        {"artist": a, "venue": v, "date": f"2026-12-{10 + i:02d}", "price": 45.0 if i % 2 else None}
        for i, (a, v) in enumerate(zip(artists, venues * 2, strict=False))
    ]


# ---- serving ----------------------------------------------------------------------------------


def test_the_packaged_handler_forecasts_what_the_local_predictor_does(
    served: Served, aws_env: None
) -> None:
    items = _pairs(served.settings)
    local = predict_ticket_sales_batch(ToolContext(served.settings), items=items)
    before = served.runtime.calls
    remote = predict_ticket_sales_batch(ToolContext(served.remote()), items=items)
    assert served.runtime.calls > before  # the forecasts did come from the endpoint
    assert remote.predictions == local.predictions
    for prediction in remote.predictions:
        assert prediction.tickets_low <= prediction.tickets_sold <= prediction.tickets_high
        assert prediction.low_confidence == (prediction.confidence < 0.70)
    # the container ran the forecaster's class from the artifact, not from this checkout
    assert "models.forecast.model" in served.container_log.split(": ", 1)[1]

    with reading(served.settings) as con:
        scheduled = [r[0] for r in con.execute(
            "SELECT concert_id FROM concerts WHERE status = 'scheduled' ORDER BY concert_id LIMIT 5"
        ).fetchall()]  # fmt: skip
    assert scheduled
    here = predict_concerts(ToolContext(served.settings), concert_ids=scheduled)
    there = predict_concerts(ToolContext(served.remote()), concert_ids=scheduled)
    assert there.predictions == here.predictions


def test_the_frames_are_equal_to_the_last_bit(served: Served, aws_env: None) -> None:
    from models.features import concert_features

    forecaster, meta = load_or_train(served.settings)
    with reading(served.settings) as con:
        targets = con.execute(
            "SELECT concert_id AS key, artist_id, venue_id, event_date::TIMESTAMP AS event_date, "
            "event_date::TIMESTAMP AS as_of, price_min AS price FROM concerts LIMIT 40"
        ).df()
        features = concert_features(con, targets)
    remote = SageMakerPredictor(runtime_client(REGION, served.url), ENDPOINT)
    pd.testing.assert_frame_equal(remote.predict(features), forecaster.predict(features))
    assert remote.meta.version == meta.version
    assert features["price"].isna().any() or features["days_on_sale"].isna().any()  # NaN travels


def test_a_missing_endpoint_says_how_to_deploy_it(served: Served, aws_env: None) -> None:
    items = _pairs(served.settings)[:1]
    with pytest.raises(ConfigError) as caught:
        predict_ticket_sales_batch(ToolContext(served.remote("encore-nowhere")), items=items)
    message = str(caught.value)
    assert "encore-nowhere not found" in message
    assert "encore aws endpoint deploy" in message and "ENCORE_PREDICTOR=local" in message


def test_a_cold_endpoint_is_retried_and_a_model_failure_is_reported(
    served: Served, aws_env: None
) -> None:
    remote = SageMakerPredictor(runtime_client(REGION, served.url), ENDPOINT)
    served.runtime.not_ready[ENDPOINT] = 1
    assert remote.meta.name == MODEL_NAME  # answered after one ModelNotReady
    assert served.runtime.not_ready[ENDPOINT] == 0

    with pytest.raises(AwsError) as caught:  # the model cannot predict without its features
        remote.predict(pd.DataFrame({"capacity": [1000.0]}))
    assert f"the model behind endpoint {ENDPOINT} failed" in str(caught.value)
    assert "KeyError" in str(caught.value) and "logs: arn:aws:logs" in str(caught.value)


# ---- deployment on moto's server --------------------------------------------------------------


@pytest.fixture
def deploy_settings(s3_settings: Settings, trained_warehouse: Settings, tmp_path: Path) -> Settings:
    """A trained registry, a lake bucket on moto, the image and role, a group prefix of its own."""
    trained = copy_warehouse(trained_warehouse, tmp_path / "trained", models=True)
    prefix = f"t{s3_settings.glue_database[-8:]}"
    return s3_settings.model_copy(
        update={
            "data_dir": trained.data_dir,
            "sagemaker_image_uri": IMAGE,
            "sagemaker_execution_role": ROLE,
            "sagemaker_model_group": prefix,
        }
    )


def test_deploy_creates_a_serverless_endpoint_once(deploy_settings: Settings) -> None:
    lines: list[str] = []
    report = deploy_endpoint(deploy_settings, poll_s=0.01, progress=lines.append)
    prefix = deploy_settings.sagemaker_model_group
    version = ModelRegistry(deploy_settings).current(MODEL_NAME).version  # type: ignore[union-attr]
    name, model = f"{prefix}-sales-forecast", f"{prefix}-sales-forecast-{version}"
    config = f"{name}-{version}-sl2048x5"
    assert f"endpoint config {config}" in report.created
    assert f"endpoint {name} ({config})" in report.created
    assert any(line.startswith(f"endpoint {name}: InService") for line in lines)

    sm = aws_client("sagemaker", deploy_settings)
    endpoint = sm.describe_endpoint(EndpointName=name)
    assert endpoint["EndpointStatus"] == "InService"
    assert endpoint["EndpointConfigName"] == config
    [variant] = sm.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"]
    assert variant["ModelName"] == model
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
    container = sm.describe_model(ModelName=model)["PrimaryContainer"]
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    assert container["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == "/opt/ml/model/code"

    # the artifact SageMaker fetches carries the handler: this checkout's inference.py
    key = container["ModelDataUrl"].split("/", 3)[3]
    body = aws_client("s3", deploy_settings).get_object(Bucket=deploy_settings.lake_bucket, Key=key)
    with tarfile.open(fileobj=io.BytesIO(body["Body"].read()), mode="r:gz") as tar:
        handler = tar.extractfile("code/inference.py").read()  # type: ignore[union-attr]
        requirements = tar.extractfile("code/requirements.txt").read().decode()  # type: ignore[union-attr]
    assert handler == (Path(__file__).parents[2] / "models/serving/inference.py").read_bytes()
    assert "scikit-learn==" in requirements

    again = deploy_endpoint(deploy_settings, poll_s=0.01)
    assert again.created == [] and again.updated == []
    assert f"endpoint {name}: already on {config} (InService)" in again.skipped

    assert delete_endpoint(deploy_settings).deleted == [f"endpoint {name}"]
    assert delete_endpoint(deploy_settings).skipped == [f"endpoint {name}: does not exist"]


def test_deploy_names_what_is_missing(deploy_settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ENCORE_SAGEMAKER_EXECUTION_ROLE"):
        deploy_endpoint(deploy_settings.model_copy(update={"sagemaker_execution_role": None}))
    untrained = deploy_settings.model_copy(update={"data_dir": tmp_path / "empty"})
    with pytest.raises(ModelNotTrainedError, match="encore train sales_forecast"):
        deploy_endpoint(untrained)
    with pytest.raises(ConfigError, match="1024-6144"):
        Capacity(memory_mb=3000)


def test_the_cli_deploys_and_deletes(
    deploy_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.cli import app

    for name, value in {
        "ENCORE_DATA_DIR": str(deploy_settings.data_dir),
        "ENCORE_LAKE_BUCKET": str(deploy_settings.lake_bucket),
        "ENCORE_AWS_ENDPOINT_URL": str(deploy_settings.aws_endpoint_url),
        "ENCORE_SAGEMAKER_IMAGE_URI": IMAGE,
        "ENCORE_SAGEMAKER_EXECUTION_ROLE": ROLE,
        "ENCORE_SAGEMAKER_MODEL_GROUP": deploy_settings.sagemaker_model_group,
        "ENCORE_SAGEMAKER_ENDPOINT": "encore-cli-forecast",
    }.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    deployed = runner.invoke(app, ["aws", "endpoint", "deploy", "--poll", "0", "--memory", "1024"])
    assert deployed.exit_code == 0, deployed.output
    assert "endpoint encore-cli-forecast: InService" in deployed.output
    assert "created" in deployed.output and "sl1024x5" in deployed.output
    bad = runner.invoke(app, ["aws", "endpoint", "deploy", "--memory", "100"])
    assert bad.exit_code == 1 and "1024-6144" in bad.output
    deleted = runner.invoke(app, ["aws", "endpoint", "delete"])
    assert deleted.exit_code == 0 and "deleted" in deleted.output


class MotoSageMaker:
    """moto's SageMaker with UpdateEndpoint, which moto lacks: the endpoint is recreated on the
    new config (SageMaker swaps it in place)."""

    def __init__(self, sagemaker: Any) -> None:
        self.sagemaker = sagemaker
        self.updates: list[str] = []

    def update_endpoint(self, EndpointName: str, EndpointConfigName: str) -> None:  # noqa: N803
        self.sagemaker.delete_endpoint(EndpointName=EndpointName)
        self.sagemaker.create_endpoint(
            EndpointName=EndpointName, EndpointConfigName=EndpointConfigName
        )
        self.updates.append(EndpointConfigName)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sagemaker, name)


def test_a_new_champion_or_capacity_moves_the_endpoint(deploy_settings: Settings) -> None:
    sm = MotoSageMaker(aws_client("sagemaker", deploy_settings))
    deploy_endpoint(deploy_settings, sagemaker=sm, poll_s=0.01)
    registry = ModelRegistry(deploy_settings)
    old = registry.current(MODEL_NAME)
    assert old is not None
    artifact, _ = registry.load(MODEL_NAME)
    new = registry.register(
        MODEL_NAME, artifact, metrics=old.metrics, params=old.params, data_snapshot={}
    )
    assert registry.promote(MODEL_NAME, new.version, primary_metric="mape", higher_is_better=False)

    moved = deploy_endpoint(deploy_settings, sagemaker=sm, poll_s=0.01)
    name = f"{deploy_settings.sagemaker_model_group}-sales-forecast"
    config = f"{name}-{new.version}-sl2048x5"
    assert moved.updated == [f"endpoint {name}: {name}-{old.version}-sl2048x5 -> {config}"]
    assert f"model {name}-{new.version}" in moved.created
    assert sm.updates == [config]
    [variant] = sm.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"]
    assert variant["ModelName"] == f"{name}-{new.version}"

    on_instances = Capacity(instance_type="ml.m5.large", instance_count=2)
    resized = deploy_endpoint(deploy_settings, sagemaker=sm, capacity=on_instances, poll_s=0.01)
    bigger = f"{name}-{new.version}-m5-large-x2"
    assert resized.updated == [f"endpoint {name}: {config} -> {bigger}"]
    [variant] = sm.describe_endpoint_config(EndpointConfigName=bigger)["ProductionVariants"]
    assert (variant["InstanceType"], variant["InitialInstanceCount"]) == ("ml.m5.large", 2)
