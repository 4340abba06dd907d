"""The code/ folder a served model carries in model.tar.gz: handler, model source, requirements.

    code/inference.py               models/serving/inference.py (model_fn/input_fn/predict_fn/...)
    code/requirements.txt           numpy, pandas, scikit-learn, ... pinned to the versions that
                                    trained the artifact (the toolkit installs them at start)
    code/models/forecast/model.py   the forecaster's class, so the pickle loads: the same file
    code/models/forecast/__init__.py, code/models/__init__.py
    code/models/features.py         only the feature-name constants model.py imports (the real
                                    module needs DuckDB, which serving has no use for)

Only models with a handler are served; the others are published as packages alone.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import Final

import models
from models import features

HANDLER: Final = "inference.py"
CODE_DIR: Final = "/opt/ml/model/code"
SERVING_ENV: Final = {
    "SAGEMAKER_PROGRAM": HANDLER,
    "SAGEMAKER_SUBMIT_DIRECTORY": CODE_DIR,
    "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
}
"""The Model environment that tells the scikit-learn container where the handler is."""
SERVED_MODELS: Final = frozenset({"sales_forecast"})
_PINNED: Final = ("numpy", "pandas", "scikit-learn", "scipy", "joblib", "threadpoolctl")
_SOURCE: Final = Path(models.__file__).parent


def serving_code(model: str) -> dict[str, bytes]:
    """The code/ files (tar member name -> bytes) that serve `model`; empty when not served."""
    if model not in SERVED_MODELS:
        return {}
    return {
        f"code/{HANDLER}": (_SOURCE / "serving" / "inference.py").read_bytes(),
        "code/requirements.txt": requirements().encode(),
        "code/models/__init__.py": b'"""Encore\'s models, as shipped to a serving container."""\n',
        "code/models/forecast/__init__.py": (_SOURCE / "forecast" / "__init__.py").read_bytes(),
        "code/models/forecast/model.py": (_SOURCE / "forecast" / "model.py").read_bytes(),
        "code/models/features.py": _feature_names().encode(),
    }


def requirements() -> str:
    """requirements.txt pinning the libraries of this environment that the pickle depends on."""
    return "".join(f"{name}=={metadata.version(name)}\n" for name in _PINNED)


def _feature_names() -> str:
    return (
        '"""Feature names of the forecaster (models/features.py without its DuckDB queries)."""\n'
        f"CATEGORICAL = {features.CATEGORICAL!r}\n"
        f"NUMERIC = {features.NUMERIC!r}\n"
        "FEATURES = CATEGORICAL + NUMERIC\n"
    )
