"""The SageMaker inference handler of the ticket-sales forecaster, shipped as code/inference.py.

The scikit-learn serving container (and any container built on the SageMaker inference toolkit)
imports this module from model.tar.gz's code/ folder (SAGEMAKER_PROGRAM=inference.py,
SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code) and calls, per request,
input_fn → predict_fn → output_fn on the model that model_fn loaded once.

Request  (application/json): {"columns": [...], "dtypes": {column: dtype}, "data": [[...], ...]}
         feature rows as `models.features.concert_features` builds them; null for missing.
Response (application/json): {"model": <the version's meta.json>, "columns": [...],
         "dtypes": {...}, "data": [[...], ...]}: exactly the frame SalesForecaster.predict returns
         (prediction, interval, gross, confidence, low_confidence at < 0.70, ...), row for row;
         no rows in, no rows out (but the version: clients ask for it that way).

It imports nothing of Encore but the pickled forecaster's own module (shipped beside it), so it
runs in a container with only numpy, pandas and scikit-learn; floats go through JSON as
shortest round-trip text, so a remote prediction equals the local one exactly.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

JSON = "application/json"
_HERE = str(Path(__file__).resolve().parent)


def model_fn(model_dir: str) -> dict[str, Any]:
    """The forecaster and its registry metadata, loaded once per container."""
    # the pickled forecaster's module (models/forecast/model.py) is shipped beside this file
    if _HERE not in sys.path:
        sys.path.insert(0, _HERE)
    import joblib

    meta = json.loads((Path(model_dir) / "meta.json").read_text(encoding="utf-8"))
    return {"forecaster": joblib.load(Path(model_dir) / "model.joblib"), "meta": meta}


def input_fn(request_body: bytes | str, content_type: str = JSON) -> Any:
    """Feature rows as a DataFrame with the dtypes the client's frame had."""
    import pandas as pd

    if (content_type or JSON).split(";")[0].strip() != JSON:
        raise ValueError(f"send {JSON}; got {content_type!r}")
    payload = json.loads(request_body)
    columns = list(payload["columns"])
    frame = pd.DataFrame(payload["data"], columns=columns)
    dtypes = dict(payload.get("dtypes") or {})
    for column in columns:
        # an empty request has no values to infer from: fall back to float
        frame[column] = frame[column].astype(dtypes.get(column, "float64"))
    return frame


def predict_fn(input_data: Any, model: dict[str, Any]) -> dict[str, Any]:
    """The forecaster's prediction frame, with the metadata of the version that made it.

    A request without rows answers only which version is served (clients ask that first).
    """
    if len(input_data) == 0:
        return {"frame": input_data.iloc[:, :0], "meta": model["meta"]}
    return {"frame": model["forecaster"].predict(input_data), "meta": model["meta"]}


def output_fn(prediction: dict[str, Any], accept: str = JSON) -> tuple[bytes, str]:
    """JSON with the prediction frame's columns, dtypes and rows (NaN as null)."""
    if accept and accept.split(";")[0].strip() not in (JSON, "*/*"):
        raise ValueError(f"this model answers in {JSON}; got Accept {accept!r}")
    frame = prediction["frame"]
    rows = [[json_value(value) for value in row] for row in frame.itertuples(index=False)]
    body = {
        "model": prediction["meta"],
        "columns": [str(c) for c in frame.columns],
        "dtypes": {str(c): str(t) for c, t in frame.dtypes.items()},
        "data": rows,
    }
    return json.dumps(body, allow_nan=False).encode("utf-8"), JSON


def json_value(value: Any) -> Any:
    """A JSON value for a numpy/pandas scalar: exact floats, real booleans, null for missing."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
