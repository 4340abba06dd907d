"""Publishing registry champions to SageMaker, against moto's server (canned SageMaker)."""

from __future__ import annotations

import io
import tarfile

import joblib
import pytest

from core.errors import ConfigError
from core.settings import Settings
from models.registry import ModelRegistry
from models.serving.sagemaker import publish_models

from .conftest import aws_client

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/encore-sklearn:1.9"
ROLE = "arn:aws:iam::123456789012:role/encore-sagemaker"


@pytest.fixture
def sm_settings(s3_settings: Settings) -> Settings:
    return s3_settings.model_copy(
        update={
            "sagemaker_image_uri": IMAGE,
            "sagemaker_execution_role": ROLE,
            "sagemaker_model_group": f"t{s3_settings.glue_database[-8:]}",
        }
    )


def _train(registry: ModelRegistry, mae: float) -> str:
    meta = registry.register(
        "attendance", {"coef": [1.0, mae]}, metrics={"mae": mae}, params={}, data_snapshot={}
    )
    registry.promote("attendance", meta.version, primary_metric="mae", higher_is_better=False)
    return meta.version


def _packages(settings: Settings) -> list[dict[str, object]]:
    sm = aws_client("sagemaker", settings)
    group = f"{settings.sagemaker_model_group}-attendance"
    summaries = sm.list_model_packages(ModelPackageGroupName=group, ModelPackageType="Versioned")
    return [
        sm.describe_model_package(ModelPackageName=s["ModelPackageArn"])
        for s in summaries["ModelPackageSummaryList"]
    ]


def test_the_champion_is_published_once_per_version(sm_settings: Settings) -> None:
    registry = ModelRegistry(sm_settings)
    v1 = _train(registry, 12.5)
    report = publish_models(sm_settings, registry=registry)
    group = f"{sm_settings.sagemaker_model_group}-attendance"
    assert f"model package group {group}" in report.created
    assert f"model {group}-{v1}" in report.created

    [package] = _packages(sm_settings)
    [container] = package["InferenceSpecification"]["Containers"]  # type: ignore[index]
    artifact = f"s3://{sm_settings.lake_bucket}/models/attendance/{v1}/model.tar.gz"
    assert container["Image"] == IMAGE
    assert container["ModelDataUrl"] == artifact
    assert package["CustomerMetadataProperties"]["encore_version"] == v1  # type: ignore[index]
    assert package["CustomerMetadataProperties"]["metric_mae"] == "12.5"  # type: ignore[index]
    assert package["ModelApprovalStatus"] == "Approved"

    # the artifact is the registry's joblib, loadable from the tarball SageMaker will fetch
    s3 = aws_client("s3", sm_settings)
    body = s3.get_object(Bucket=sm_settings.lake_bucket, Key=artifact.split("/", 3)[3])["Body"]
    with tarfile.open(fileobj=io.BytesIO(body.read()), mode="r:gz") as tar:
        assert sorted(tar.getnames()) == ["meta.json", "model.joblib"]
        loaded = joblib.load(io.BytesIO(tar.extractfile("model.joblib").read()))  # type: ignore[union-attr]
    assert loaded == {"coef": [1.0, 12.5]}
    model = aws_client("sagemaker", sm_settings).describe_model(ModelName=f"{group}-{v1}")
    assert model["ExecutionRoleArn"] == ROLE
    assert model["PrimaryContainer"]["ModelDataUrl"] == artifact

    # again: nothing new
    again = publish_models(sm_settings, registry=registry)
    assert not again.changed, again
    assert len(_packages(sm_settings)) == 1

    # a better version is promoted: only it is published
    v2 = _train(registry, 9.0)
    third = publish_models(sm_settings, registry=registry)
    assert len(third.created) == 3
    assert third.created[0] == (
        f"artifact s3://{sm_settings.lake_bucket}/models/attendance/{v2}/model.tar.gz"
    )
    assert third.created[1].startswith(f"model package attendance {v2} (arn:aws:sagemaker:")
    assert third.created[2] == f"model {group}-{v2}"
    versions = sorted(
        p["CustomerMetadataProperties"]["encore_version"] for p in _packages(sm_settings)
    )  # type: ignore[index]
    assert versions == [v1, v2]


def test_publishing_names_missing_settings(s3_settings: Settings) -> None:
    with pytest.raises(ConfigError, match="ENCORE_SAGEMAKER_IMAGE_URI"):
        publish_models(s3_settings)


def test_a_registry_without_champions_publishes_nothing(sm_settings: Settings) -> None:
    registry = ModelRegistry(sm_settings)
    registry.register("attendance", {"x": 1}, metrics={"mae": 1.0}, params={}, data_snapshot={})
    report = publish_models(sm_settings, registry=registry)
    assert report.skipped == ["attendance: no promoted version"] and not report.changed
