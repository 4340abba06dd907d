"""A SageMaker endpoint serving the forecaster's champion (`encore aws endpoint deploy`).

    Model            <prefix>-sales-forecast-<version>   published as `encore aws sync --models`
                                                         does, with the handler's environment
    EndpointConfig   <endpoint>-<version>-<capacity>     serverless by default (paid per request,
                                                         nothing while idle); or instances
    Endpoint         ENCORE_SAGEMAKER_ENDPOINT           default <prefix>-sales-forecast

Deploying is idempotent: an endpoint already on the wanted config is left alone; a new champion
or capacity gets a new config and UpdateEndpoint, which SageMaker swaps in without downtime.
Endpoint configs are immutable, so each one is named after what it holds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from core.aws import SyncReport, aws_call, client, describe_or_none, require
from core.errors import AwsError, ConfigError
from core.settings import Settings
from models.registry import ModelNotTrainedError, ModelRegistry
from models.serving.bundle import SERVING_ENV
from models.serving.sagemaker import SageMakerPublisher, sagemaker_name

SERVED_MODEL: Final = "sales_forecast"
VARIANT: Final = "AllTraffic"
_NOT_FOUND: Final = ("ValidationException", "ValidationError", "ResourceNotFound")
_BUSY: Final = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"})
_BROKEN: Final = frozenset({"Failed", "UpdateRollbackFailed", "OutOfService"})

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Capacity:
    """What runs the model: serverless (memory, concurrency) unless an instance type is given."""

    memory_mb: int = 2048
    max_concurrency: int = 5
    instance_type: str | None = None
    instance_count: int = 1

    def __post_init__(self) -> None:
        if self.instance_type is None:
            if self.memory_mb not in range(1024, 6145, 1024):
                raise ConfigError(
                    f"serverless memory is 1024-6144 MB in steps of 1024; got {self.memory_mb}"
                )
            if not 1 <= self.max_concurrency <= 200:
                raise ConfigError(f"max concurrency is 1-200; got {self.max_concurrency}")
        elif self.instance_count < 1:
            raise ConfigError(f"instance count is 1 or more; got {self.instance_count}")

    @property
    def label(self) -> str:
        """A short name for the capacity, part of the endpoint config's name."""
        if self.instance_type is None:
            return f"sl{self.memory_mb}x{self.max_concurrency}"
        return f"{self.instance_type.removeprefix('ml.')}-x{self.instance_count}"

    def variant(self, model: str) -> dict[str, Any]:
        """The production variant of an endpoint config serving `model`."""
        if self.instance_type is None:
            sizing: dict[str, Any] = {
                "ServerlessConfig": {
                    "MemorySizeInMB": self.memory_mb,
                    "MaxConcurrency": self.max_concurrency,
                }
            }
        else:
            sizing = {
                "InstanceType": self.instance_type,
                "InitialInstanceCount": self.instance_count,
                "InitialVariantWeight": 1.0,
            }
        return {"VariantName": VARIANT, "ModelName": model, **sizing}


def endpoint_name(settings: Settings) -> str:
    """The endpoint that serves forecasts: the setting, or <model group prefix>-sales-forecast."""
    return settings.sagemaker_endpoint or sagemaker_name(
        settings.sagemaker_model_group, SERVED_MODEL
    )


def deploy_endpoint(
    settings: Settings,
    *,
    capacity: Capacity | None = None,
    wait: bool = True,
    timeout_s: float = 1800.0,
    poll_s: float = 15.0,
    progress: Progress | None = None,
    registry: ModelRegistry | None = None,
    sagemaker: Any = None,
    s3: Any = None,
) -> SyncReport:
    """Serve the forecaster's champion from a SageMaker endpoint, creating what is missing."""
    require(settings, "lake_bucket", "sagemaker_image_uri", "sagemaker_execution_role")
    capacity = capacity or Capacity()
    registry = registry or ModelRegistry(settings)
    sagemaker = sagemaker or client("sagemaker", settings)
    say = progress or (lambda _line: None)
    champion = registry.current(SERVED_MODEL)
    if champion is None:
        raise ModelNotTrainedError(
            f"no promoted {SERVED_MODEL} model to serve; run `encore train {SERVED_MODEL}` first",
            model=SERVED_MODEL,
        )
    report = SyncReport("endpoint")
    publisher = SageMakerPublisher(
        sagemaker,
        s3 or client("s3", settings),
        bucket=str(settings.lake_bucket),
        image_uri=str(settings.sagemaker_image_uri),
        group_prefix=settings.sagemaker_model_group,
        execution_role=settings.sagemaker_execution_role,
    )
    say(f"publishing {SERVED_MODEL} {champion.version}")
    model = publisher.publish(registry, champion, report)
    assert model is not None  # the execution role is required above
    _check_serving_env(sagemaker, model)
    name = endpoint_name(settings)
    config = sagemaker_name(name, champion.version, capacity.label)
    _ensure_config(sagemaker, config, capacity.variant(model), report)
    _ensure_endpoint(sagemaker, name, config, report, timeout_s, poll_s, say)
    if wait:
        wait_for_endpoint(sagemaker, name, timeout_s=timeout_s, poll_s=poll_s, progress=say)
    return report


def _check_serving_env(sagemaker: Any, model: str) -> None:
    described = describe_or_none(
        f"read SageMaker model {model}", sagemaker.describe_model, _NOT_FOUND, ModelName=model
    )
    environment = ((described or {}).get("PrimaryContainer") or {}).get("Environment") or {}
    if environment.get("SAGEMAKER_PROGRAM") != SERVING_ENV["SAGEMAKER_PROGRAM"]:
        raise ConfigError(
            f"SageMaker model {model} was created without the inference handler; delete it "
            f"(aws sagemaker delete-model --model-name {model}) and deploy again",
            model=model,
        )


def _ensure_config(
    sagemaker: Any, config: str, variant: dict[str, Any], report: SyncReport
) -> None:
    if describe_or_none(
        f"read endpoint config {config}", sagemaker.describe_endpoint_config, _NOT_FOUND,
        EndpointConfigName=config,
    ):  # fmt: skip
        report.skipped.append(f"endpoint config {config}: exists")
        return
    with aws_call(f"create endpoint config {config}", config=config):
        sagemaker.create_endpoint_config(EndpointConfigName=config, ProductionVariants=[variant])
    report.created.append(f"endpoint config {config}")


def _ensure_endpoint(
    sagemaker: Any,
    name: str,
    config: str,
    report: SyncReport,
    timeout_s: float,
    poll_s: float,
    say: Progress,
) -> None:
    described = describe_or_none(
        f"read endpoint {name}", sagemaker.describe_endpoint, _NOT_FOUND, EndpointName=name
    )
    if described is None:
        with aws_call(f"create endpoint {name}", endpoint=name):
            sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=config)
        report.created.append(f"endpoint {name} ({config})")
        return
    status = str(described.get("EndpointStatus", ""))
    if status in _BROKEN:
        raise AwsError(
            f"endpoint {name} is {status}: {described.get('FailureReason') or 'no reason given'}; "
            "delete it with `encore aws endpoint delete` and deploy again",
            endpoint=name,
            status=status,
        )
    if described.get("EndpointConfigName") == config:
        report.skipped.append(f"endpoint {name}: already on {config} ({status})")
        return
    if status in _BUSY:
        say(f"endpoint {name} is {status}; waiting before updating it")
        wait_for_endpoint(sagemaker, name, timeout_s=timeout_s, poll_s=poll_s, progress=say)
    with aws_call(f"update endpoint {name} to {config}", endpoint=name):
        sagemaker.update_endpoint(EndpointName=name, EndpointConfigName=config)
    report.updated.append(f"endpoint {name}: {described.get('EndpointConfigName')} -> {config}")


def wait_for_endpoint(
    sagemaker: Any,
    name: str,
    *,
    timeout_s: float = 1800.0,
    poll_s: float = 15.0,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Poll the endpoint until it is InService (its description), saying each status change."""
    say = progress or (lambda _line: None)
    started = time.monotonic()
    last = ""
    while True:
        described = describe_or_none(
            f"read endpoint {name}", sagemaker.describe_endpoint, _NOT_FOUND, EndpointName=name
        )
        if described is None:
            raise AwsError(f"endpoint {name} disappeared while waiting for it", endpoint=name)
        status = str(described.get("EndpointStatus", ""))
        elapsed = time.monotonic() - started
        if status != last:
            say(f"endpoint {name}: {status} ({elapsed:.0f} s)")
            last = status
        if status == "InService":
            return described
        if status in _BROKEN:
            raise AwsError(
                f"endpoint {name} is {status}: "
                f"{described.get('FailureReason') or 'no reason given'} (see its CloudWatch "
                f"logs under /aws/sagemaker/Endpoints/{name})",
                endpoint=name,
                status=status,
            )
        if elapsed >= timeout_s:
            raise AwsError(
                f"endpoint {name} is still {status} after {elapsed:.0f} s; SageMaker goes on "
                "with it: deploy again later to keep waiting",
                endpoint=name,
                status=status,
            )
        time.sleep(poll_s)


def delete_endpoint(settings: Settings, *, sagemaker: Any = None) -> SyncReport:
    """Delete the forecast endpoint (its configs and models stay: deploying again reuses them)."""
    sagemaker = sagemaker or client("sagemaker", settings)
    name = endpoint_name(settings)
    report = SyncReport("endpoint")
    if not describe_or_none(
        f"read endpoint {name}", sagemaker.describe_endpoint, _NOT_FOUND, EndpointName=name
    ):
        report.skipped.append(f"endpoint {name}: does not exist")
        return report
    with aws_call(f"delete endpoint {name}", endpoint=name):
        sagemaker.delete_endpoint(EndpointName=name)
    report.deleted.append(f"endpoint {name}")
    return report
