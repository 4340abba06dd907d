"""Where forecasts are computed: the local champion (default) or the SageMaker endpoint.

    Predictor (Protocol)   predict(features) -> the prediction frame
     ├── SalesForecaster   the registry's champion, in this process (models/forecast/model.py)
     └── SageMakerPredictor  InvokeEndpoint on the endpoint serving that champion (runtime.py)

ENCORE_PREDICTOR=local|sagemaker chooses; unset, the aws profile means sagemaker. Features are
computed from the warehouse either way, so both answer the same rows with the same frame.
"""

from __future__ import annotations

from typing import Literal, Protocol

import pandas as pd

from core.settings import Settings
from models.registry import ModelVersion

PredictorKind = Literal["local", "sagemaker"]


class Predictor(Protocol):
    """Turns feature rows into prediction rows (tickets, interval, gross, confidence, flags)."""

    def predict(self, features: pd.DataFrame) -> pd.DataFrame: ...


def predictor_kind(settings: Settings) -> PredictorKind:
    """The predictor the settings choose."""
    if settings.predictor is not None:
        return settings.predictor
    return "sagemaker" if settings.profile == "aws" else "local"


def forecaster(settings: Settings) -> tuple[Predictor, ModelVersion]:
    """The forecaster the settings choose, with the registry version it serves."""
    if predictor_kind(settings) == "sagemaker":
        from models.serving.runtime import sagemaker_predictor

        remote = sagemaker_predictor(settings)
        return remote, remote.meta
    from models.forecast.train import load_or_train  # scikit-learn loads on first use

    return load_or_train(settings)
