"""Forecasts from the SageMaker endpoint: the same frame SalesForecaster.predict returns.

Features are computed here, from the warehouse, as on the local path; the endpoint runs the
champion's handler (inference.py) on them. Calls have connect/read timeouts; throttling and 5xx
answers are retried by botocore's standard mode, and a serverless endpoint still starting
(ModelNotReadyException) is retried with a back-off. A missing endpoint is a ConfigError that
says how to deploy it or stay local.
"""

from __future__ import annotations

import json
import logging
import time
from functools import lru_cache
from typing import Any, Final

import pandas as pd

from core.aws import aws_call, error_code
from core.errors import AwsError, ConfigError
from core.settings import Settings
from models.registry import ModelVersion
from models.serving.inference import JSON, json_value

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S: Final = 5.0
READ_TIMEOUT_S: Final = 70.0  # SageMaker itself gives up on an invocation after 60 s
ATTEMPTS: Final = 3
_NOT_READY_WAITS_S: Final = (1.0, 3.0, 9.0)


class SageMakerPredictor:
    """Predicts through InvokeEndpoint; `meta` is the registry version the endpoint serves."""

    def __init__(self, runtime: Any, endpoint: str, *, region: str = "") -> None:
        self.runtime = runtime
        self.endpoint = endpoint
        self.region = region
        self._meta: ModelVersion | None = None

    @property
    def meta(self) -> ModelVersion:
        """The served version: asked once (an empty request), then refreshed by every reply."""
        if self._meta is None:
            self.predict(pd.DataFrame())
        assert self._meta is not None
        return self._meta

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """Prediction rows for feature rows, index kept, as the local forecaster returns them."""
        request = {
            "columns": [str(c) for c in features.columns],
            "dtypes": {str(c): str(t) for c, t in features.dtypes.items()},
            "data": [[json_value(v) for v in row] for row in features.itertuples(index=False)],
        }
        reply = self._invoke(json.dumps(request, allow_nan=False).encode())
        version = ModelVersion.model_validate(reply["model"])
        if self._meta is not None and self._meta.version != version.version:
            log.info("endpoint %s now serves %s", self.endpoint, version.version)
        self._meta = version
        frame = pd.DataFrame(reply["data"], columns=reply["columns"])
        for column, dtype in reply["dtypes"].items():
            frame[column] = frame[column].astype(dtype)
        if len(frame) != len(features):
            raise AwsError(
                f"endpoint {self.endpoint} answered {len(frame)} rows for {len(features)}",
                endpoint=self.endpoint,
            )
        frame.index = features.index
        return frame

    def _invoke(self, body: bytes) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        for attempt, pause in enumerate((*_NOT_READY_WAITS_S, None)):
            try:
                with aws_call(f"invoke SageMaker endpoint {self.endpoint}", endpoint=self.endpoint):
                    try:
                        answer = self.runtime.invoke_endpoint(
                            EndpointName=self.endpoint,
                            ContentType=JSON,
                            Accept=JSON,
                            Body=body,
                        )
                    except ClientError as exc:
                        self._explain(exc)
                        raise
                return dict(json.loads(answer["Body"].read()))
            except AwsError as exc:
                if exc.detail.get("code") != "ModelNotReadyException" or pause is None:
                    raise
                log.info("endpoint %s not ready (try %d); retrying", self.endpoint, attempt + 1)
                time.sleep(pause)
        raise AssertionError("unreachable")  # pragma: no cover

    def _explain(self, exc: Exception) -> None:
        """Raise the Encore error that tells the caller what to do, for the codes that have one."""
        code = error_code(exc)
        failure = getattr(exc, "response", {}).get("Error", {})
        message = str(failure.get("Message", ""))
        if code in ("ValidationError", "ValidationException") and "not found" in message.lower():
            where = f" in {self.region}" if self.region else ""
            raise ConfigError(
                f"SageMaker endpoint {self.endpoint} not found{where}; deploy it with "
                "`encore aws endpoint deploy`, or set ENCORE_PREDICTOR=local to forecast locally",
                endpoint=self.endpoint,
            ) from exc
        if code == "ModelError":
            response = getattr(exc, "response", {})
            original = response.get("OriginalMessage") or message
            logs = response.get("LogStreamArn")
            raise AwsError(
                f"the model behind endpoint {self.endpoint} failed: {original}"
                + (f" (logs: {logs})" if logs else ""),
                code=code,
                endpoint=self.endpoint,
            ) from exc


def runtime_client(region: str, endpoint_url: str | None = None) -> Any:
    """A sagemaker-runtime client with the timeouts and retries forecasts need."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:  # the aws extra is optional
        raise ConfigError(
            "forecasting on SageMaker needs boto3: pip install 'encore[aws]'"
        ) from exc
    config = Config(
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        retries={"max_attempts": ATTEMPTS, "mode": "standard"},
    )
    return boto3.client(
        "sagemaker-runtime",
        region_name=region,
        endpoint_url=endpoint_url,
        config=config,
    )


@lru_cache(maxsize=8)
def _cached(endpoint: str, region: str, url: str | None) -> SageMakerPredictor:
    return SageMakerPredictor(runtime_client(region, url), endpoint, region=region)


def sagemaker_predictor(settings: Settings) -> SageMakerPredictor:
    """The predictor of the settings' endpoint, one per process (it keeps its client and meta)."""
    from models.serving.endpoint import endpoint_name

    return _cached(endpoint_name(settings), settings.aws_region, settings.aws_endpoint_url)
