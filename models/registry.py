"""The local model registry: versioned artifacts with metrics, parameters and their data snapshot.

Layout under `settings.models_dir`:

    <name>/<version>/model.joblib   the artifact (joblib)
    <name>/<version>/meta.json      metrics, params, data_snapshot, fingerprint, trained_at, status,
                                    decision
    <name>/state.json               the champion and the champions before it (for rollback)

A version directory is built in a temporary directory beside it and renamed into place, and every
JSON file is replaced with `Path.replace`, so a reader never sees half a version. Promotion keeps a
new version only when its primary metric is not worse than the champion's (DESIGN issue #4); a
version registered as not evaluated (`not_evaluated` names why) has nothing to be worse with and is
promoted, the reason kept in its decision (see `ModelRegistry.promote`). A version's
`fingerprint` is the digest of its artifact file: two trainings that built the same model have the
same fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import joblib
from pydantic import BaseModel, Field

from core.errors import EncoreError, ValidationError
from core.settings import Settings

log = logging.getLogger(__name__)

Status = Literal["candidate", "champion", "rejected", "retired"]
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_VERSION = re.compile(r"^v(\d{4,})$")
# Unpickled artifacts kept by file identity: a version's file is written once, so (path, mtime,
# size) names its content. Serving loads the champion on every call (a ranking or forecast
# request), and unpickling was most of such a call's time. Callers treat artifacts as read-only.
_LOADED: OrderedDict[tuple[str, int, int], object] = OrderedDict()
_LOADED_MAX = 6
_loaded_lock = threading.Lock()


class ModelNotTrainedError(EncoreError):
    """No version (or no champion) of a model exists yet; the message names the command to run."""


class ModelVersion(BaseModel):
    """One registered version of a model, as recorded in its meta.json."""

    name: str
    version: str
    trained_at: datetime
    status: Status = "candidate"
    metrics: dict[str, float] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    data_snapshot: dict[str, Any] = Field(default_factory=dict)
    decision: str | None = Field(None, description="why the version was promoted or rejected")
    decided_by: str | None = Field(None, description="the metric its promotion compared")
    not_evaluated: str | None = Field(
        None, description="why the version has no holdout metrics (None: it was evaluated)"
    )
    fingerprint: str | None = Field(
        None,
        description="sha256 of the artifact file: equal for versions that are the same model "
        "(None: registered before fingerprints were recorded)",
    )


def _write_json(path: Path, payload: Mapping[str, Any]) -> None:
    """Replace `path` atomically: write a sibling temp file, then rename over it."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2, sort_keys=True, default=str)
    Path(tmp).replace(path)


def metric_text(name: str, value: float) -> str:
    """A metric as people read it: a `*_day` metric (a date's ordinal) as the date; NaN (left
    by versions registered before NaNs were dropped) as "n/a", never as a number."""
    if math.isnan(value):
        return "n/a"
    if name.endswith("_day") and value >= 1:
        return date.fromordinal(int(value)).isoformat()
    return f"{value:.4g}"


class ModelRegistry:
    """Versions of named models on the local disk; the champion is what `load` returns."""

    def __init__(self, settings: Settings) -> None:
        self.root = settings.models_dir

    # -- paths and state ---------------------------------------------------------------------

    def _model_dir(self, name: str) -> Path:
        if not _NAME.match(name):
            raise ValidationError(
                f"model names are lower-case words joined by '_'; got {name!r}", field="name"
            )
        return self.root / name

    def _state(self, name: str) -> dict[str, Any]:
        path = self._model_dir(name) / "state.json"
        if not path.exists():
            return {"champion": None, "history": []}
        return dict(json.loads(path.read_text(encoding="utf-8")))

    def _save_state(self, name: str, state: Mapping[str, Any]) -> None:
        _write_json(self._model_dir(name) / "state.json", state)

    def _meta(self, name: str, version: str) -> ModelVersion:
        path = self._model_dir(name) / version / "meta.json"
        if not path.exists():
            known = ", ".join(v.version for v in self.versions(name)) or "none"
            raise ValidationError(
                f"model {name!r} has no version {version!r}; versions: {known}", field="version"
            )
        return ModelVersion.model_validate_json(path.read_text(encoding="utf-8"))

    def _save_meta(self, meta: ModelVersion) -> None:
        _write_json(
            self._model_dir(meta.name) / meta.version / "meta.json", meta.model_dump(mode="json")
        )

    # -- API ---------------------------------------------------------------------------------

    def register(
        self,
        name: str,
        artifact: object,
        *,
        metrics: Mapping[str, float],
        params: Mapping[str, Any],
        data_snapshot: Mapping[str, Any],
        not_evaluated: str | None = None,
    ) -> ModelVersion:
        """Store a new candidate version of `name`; it is not served until `promote` keeps it.

        NaN metrics are left out (a metric that could not be measured is absent, not a number
        to compare or show); `not_evaluated` says why a version has no holdout metrics at all.
        """
        measured = {k: float(v) for k, v in metrics.items() if not math.isnan(float(v))}
        if len(measured) < len(metrics):
            log.info(
                "%s: unmeasured (NaN) metrics left out: %s",
                name,
                sorted(set(metrics) - set(measured)),
            )
        model_dir = self._model_dir(name)
        model_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=model_dir))
        try:
            joblib.dump(artifact, staging / "model.joblib")
            fingerprint = _fingerprint(staging / "model.joblib")
            while True:
                version = f"v{self._next_number(name):04d}"
                meta = ModelVersion(
                    name=name,
                    version=version,
                    trained_at=datetime.now(UTC),
                    metrics=measured,
                    params=dict(params),
                    data_snapshot=dict(data_snapshot),
                    not_evaluated=not_evaluated,
                    fingerprint=fingerprint,
                )
                _write_json(staging / "meta.json", meta.model_dump(mode="json"))
                try:
                    # rename fails when another process claimed this number first: take the next
                    staging.rename(model_dir / version)
                except OSError:
                    if (model_dir / version).exists():
                        continue
                    raise
                break
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        log.info("registered %s %s with metrics %s", name, version, meta.metrics)
        return meta

    def _next_number(self, name: str) -> int:
        numbers = [
            int(m.group(1))
            for p in self._model_dir(name).iterdir()
            if (m := _VERSION.match(p.name))
        ]
        return max(numbers, default=0) + 1

    def versions(self, name: str) -> list[ModelVersion]:
        """Every version of `name`, oldest first (empty when none)."""
        model_dir = self._model_dir(name)
        if not model_dir.exists():
            return []
        found = sorted(
            (int(m.group(1)), p.name)
            for p in model_dir.iterdir()
            if (m := _VERSION.match(p.name)) and (p / "meta.json").exists()
        )
        return [self._meta(name, version) for _, version in found]

    def models(self) -> list[str]:
        """The names of all models with at least one version."""
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _NAME.match(p.name))

    def current(self, name: str) -> ModelVersion | None:
        """The champion of `name`, or None when nothing has been promoted."""
        champion = self._state(name)["champion"]
        return self._meta(name, champion) if champion else None

    def promote(
        self,
        name: str,
        version: str,
        *,
        primary_metric: str,
        higher_is_better: bool,
        protocol_param: str | None = None,
        tolerance: float = 0.0,
        compared: Mapping[str, float] | None = None,
    ) -> bool:
        """Make `version` the champion unless its `primary_metric` is worse than the champion's.

        The first version is always promoted; a tie, or a difference within `tolerance`,
        counts as "not worse". `compared` holds the candidate's metrics on the champion's own
        holdout when its own metrics were measured on another window: those are compared. When
        `protocol_param` names a param whose value differs from the champion's (the evaluation
        itself changed, so the metrics do not compare), the new version is promoted.

        Without a comparable figure on both sides there is no evidence against the candidate,
        so it is promoted: a version registered as `not_evaluated` (e.g. the recommender after
        new data left its holdout window without an evaluable fan) is trained on the newest data,
        and keeping the old champion would stop refreshes (requirement 3.3); a champion without
        the metric (itself not evaluated) is replaced by the next version. A candidate that lacks
        the metric without saying why is refused (a misspelt metric name, not a missing
        evaluation). The decision and its reason are written to the version's meta.json.
        """
        candidate = self._meta(name, version)
        candidate.decided_by = primary_metric
        new_value = _measured(candidate, primary_metric)
        on = ""
        if compared is not None and primary_metric in compared:
            new_value, on = float(compared[primary_metric]), " on the champion's holdout"
        if new_value is None and candidate.not_evaluated is None:
            raise ValidationError(
                f"{name} {version} has no metric {primary_metric!r}; "
                f"it has: {', '.join(sorted(candidate.metrics)) or 'none'}",
                field="primary_metric",
            )
        state = self._state(name)
        champion = self._meta(name, state["champion"]) if state["champion"] else None
        if champion is not None and champion.version == version:
            champion = None  # promoting the champion again: nothing to compare or retire
        old_value = None if champion is None else _measured(champion, primary_metric)
        comparable = (
            champion is None
            or protocol_param is None
            or champion.params.get(protocol_param) == candidate.params.get(protocol_param)
        )
        if (
            champion is not None
            and new_value is not None
            and old_value is not None
            and comparable
            and (
                new_value < old_value - tolerance
                if higher_is_better
                else new_value > old_value + tolerance
            )
        ):
            candidate.status = "rejected"
            candidate.decision = (
                f"kept {champion.version}: {primary_metric} "
                f"{metric_text(primary_metric, new_value)}{on} is worse "
                f"than {metric_text(primary_metric, old_value)}"
            )
            self._save_meta(candidate)
            log.info("%s %s rejected: %s", name, version, candidate.decision)
            return False
        if champion is not None:
            champion.status = "retired"
            self._save_meta(champion)
            state["history"].append(champion.version)
        candidate.status = "champion"
        candidate.decision = (
            _promotion(
                candidate, champion, primary_metric, new_value, old_value, comparable=comparable
            )
            + on
        )
        self._save_meta(candidate)
        state["champion"] = version
        self._save_state(name, state)
        log.info("%s %s promoted: %s", name, version, candidate.decision)
        return True

    def rollback(self, name: str) -> ModelVersion:
        """Serve the previous champion again; the current one is marked retired."""
        state = self._state(name)
        if not state["history"]:
            raise ValidationError(
                f"model {name!r} has no previous champion to roll back to", field="name"
            )
        previous = state["history"].pop()
        if state["champion"]:
            current = self._meta(name, state["champion"])
            current.status = "retired"
            current.decision = f"rolled back to {previous}"
            self._save_meta(current)
        restored = self._meta(name, previous)
        restored.status = "champion"
        restored.decision = "restored by rollback"
        self._save_meta(restored)
        state["champion"] = previous
        self._save_state(name, state)
        return restored

    def load(self, name: str, version: str | None = None) -> tuple[object, ModelVersion]:
        """The artifact and its metadata: the champion by default, or a named version."""
        if version is None:
            meta = self.current(name)
            if meta is None:
                raise ModelNotTrainedError(
                    f"no trained {name!r} model yet; run `encore train {name}`", model=name
                )
        else:
            meta = self._meta(name, version)
        return _load_artifact(self._model_dir(name) / meta.version / "model.joblib"), meta


def _measured(version: ModelVersion, metric: str) -> float | None:
    """The version's value of `metric`, None when it was not measured (absent or NaN)."""
    value = version.metrics.get(metric)
    return None if value is None or math.isnan(value) else value


def _promotion(
    candidate: ModelVersion,
    champion: ModelVersion | None,
    metric: str,
    new_value: float | None,
    old_value: float | None,
    *,
    comparable: bool,
) -> str:
    """Why `candidate` was promoted over `champion` (None: it is the first champion)."""
    if new_value is None:
        text = f"promoted without evaluation ({candidate.not_evaluated})"
    else:
        text = f"promoted: {metric} {metric_text(metric, new_value)}"
    if champion is None:
        return f"{text} (first champion)"
    if old_value is None:
        why = "not evaluated" if champion.not_evaluated else f"no {metric}"
        return f"{text}; {champion.version} had nothing to compare with ({why})"
    old = f"{metric_text(metric, old_value)} of {champion.version}"
    if new_value is None:
        return f"{text}; not compared with {metric} {old}"
    if not comparable:
        return f"{text} vs {old}, measured differently (not compared)"
    return f"{text} vs {old}"


def _fingerprint(path: Path) -> str:
    """The artifact file's digest, as "sha256:<hex>"."""
    with path.open("rb") as handle:
        return f"sha256:{hashlib.file_digest(handle, 'sha256').hexdigest()}"


def _load_artifact(path: Path) -> object:
    """The unpickled artifact at `path`, from memory when its file has not changed."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    with _loaded_lock:
        if key in _LOADED:
            _LOADED.move_to_end(key)
            return _LOADED[key]
    artifact = joblib.load(path)
    with _loaded_lock:
        _LOADED[key] = artifact
        while len(_LOADED) > _LOADED_MAX:
            _LOADED.popitem(last=False)
    return artifact


def last_load(con: Any) -> dict[str, Any] | None:
    """The warehouse's latest successful load (run id, when it finished) and how many there
    were: with it, a model names the pipeline runs its data came through (lineage, 5.5)."""
    row = con.execute(
        "SELECT run_id, finished_at, count(*) OVER () FROM pipeline_runs "
        "WHERE pipeline = 'ingest' AND status = 'succeeded' ORDER BY finished_at DESC LIMIT 1"
    ).fetchall()
    if not row:
        return None
    run_id, finished_at, loads = row[0]
    return {"run_id": run_id, "finished_at": str(finished_at), "loads": int(loads)}


def warehouse_snapshot(con: Any) -> dict[str, Any]:
    """What a model was trained on: the latest warehouse build and load, row counts, last event
    date."""
    snapshot: dict[str, Any] = {"last_load": last_load(con)}
    build = con.execute(
        "SELECT built_at, source, total_rows FROM warehouse_builds ORDER BY built_at DESC LIMIT 1"
    ).fetchall()
    if build:
        built_at, source, total_rows = build[0]
        snapshot["build"] = {"built_at": str(built_at), "source": source, "total_rows": total_rows}
    for table in ("artists", "venues", "concerts", "ticket_sales", "concert_performance"):
        snapshot[f"rows_{table}"] = int(
            con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
        )
    last = con.execute(
        "SELECT max(event_date) FROM concert_performance WHERE status = 'completed'"
    ).fetchall()[0]
    snapshot["max_completed_event_date"] = str(last[0]) if last and last[0] else None
    return snapshot
