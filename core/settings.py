"""One `Settings` object, built by entrypoints and passed down; library code reads no env vars."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Profile = Literal["local", "aws"]


class Settings(BaseSettings):
    """Encore configuration: each field reads `ENCORE_<FIELD>`; defaults are the offline path."""

    model_config = SettingsConfigDict(env_prefix="ENCORE_", env_file=".env", extra="ignore")

    profile: Profile = Field("local", description="local: embedded defaults; aws: cloud adapters")
    data_dir: Path = Field(
        Path(".encore"),
        description="holds the lake, the warehouse, models and memory",
    )
    warehouse_path: Path | None = Field(
        None, description="the DuckDB warehouse file; default <data_dir>/warehouse.duckdb"
    )
    max_quarantine_rate: float = Field(
        0.5, ge=0, le=1, description="an input with more bad rows than this share is not loaded"
    )
    query_timeout_s: float = Field(10.0, gt=0, description="wall-clock limit for one read query")
    query_memory_limit: str = Field("2GB", description="DuckDB memory_limit for read queries")
    query_threads: int = Field(2, ge=1, description="DuckDB threads for read queries")
    analysis_timeout_s: float = Field(
        10.0, gt=0, description="wall-clock limit of one analysis in the code sandbox"
    )
    analysis_cpu_s: int | None = Field(
        None, ge=1, description="CPU seconds one analysis may use; unset: the wall-clock limit"
    )

    lake_bucket: str | None = Field(None, description="S3 bucket for the lake; unset: local folder")
    aws_endpoint_url: str | None = Field(
        None, description="AWS endpoint override (tests, LocalStack)"
    )
    aws_region: str = "us-east-1"
    stream_kind: Literal["local", "kinesis"] = Field("local", description="the stream transport")
    stream_partitions: int | None = Field(None, ge=1, description="partitions of a new stream")

    # AWS sync (pipelines/aws, tools/query/lakeformation.py, models/serving): `encore aws sync`
    glue_database: str = Field(
        "encore", description="Glue database the curated lake datasets are registered in"
    )
    lakeformation_principals: dict[str, str] = Field(
        default_factory=dict,
        description="query-policy role -> IAM principal ARN granted in Lake Formation; JSON",
    )
    redshift_workgroup: str | None = Field(
        None, description="Redshift Serverless workgroup (or set redshift_cluster_id)"
    )
    redshift_cluster_id: str | None = Field(None, description="provisioned Redshift cluster id")
    redshift_database: str = Field("dev", description="Redshift database the warehouse loads into")
    redshift_schema: str = Field("public", description="Redshift schema of the loaded tables")
    redshift_db_user: str | None = Field(
        None, description="database user for temporary credentials (provisioned clusters)"
    )
    redshift_secret_arn: str | None = Field(
        None, description="Secrets Manager secret holding Redshift credentials"
    )
    redshift_iam_role: str | None = Field(
        None, description="IAM role ARN Redshift assumes to COPY Parquet from the lake bucket"
    )
    redshift_timeout_s: float = Field(
        300.0, gt=0, description="how long one Redshift Data API statement may run"
    )
    redshift_lock_wait_s: float = Field(
        600.0, ge=0, description="how long a sync waits for another sync's lock on its schema"
    )
    sagemaker_model_group: str = Field(
        "encore", description="prefix of SageMaker model package groups (<prefix>-<model>)"
    )
    sagemaker_image_uri: str | None = Field(
        None, description="inference container image of published SageMaker models"
    )
    sagemaker_execution_role: str | None = Field(
        None, description="IAM role ARN of SageMaker Models; unset: packages only, no Model"
    )
    sagemaker_endpoint: str | None = Field(
        None, description="endpoint serving forecasts; default <model group prefix>-sales-forecast"
    )
    predictor: Literal["local", "sagemaker"] | None = Field(
        None, description="where forecasts are computed; default sagemaker on the aws profile"
    )

    # API connectors (pipelines/sources); base URLs are settings so tests can point them at loopback
    ticketmaster_api_key: SecretStr | None = None
    ticketmaster_base_url: str = "https://app.ticketmaster.com/discovery/v2"
    spotify_client_id: str | None = None
    spotify_client_secret: SecretStr | None = None
    spotify_base_url: str = "https://api.spotify.com/v1"
    spotify_token_url: str = "https://accounts.spotify.com/api/token"  # noqa: S105 - a URL
    setlistfm_api_key: SecretStr | None = None
    setlistfm_base_url: str = "https://api.setlist.fm/rest/1.0"
    setlistfm_artists: list[str] = Field(
        default_factory=list, description="MusicBrainz ids whose setlists `pipeline run` loads"
    )
    http_timeout_s: float = Field(10.0, gt=0, description="per-request timeout for API connectors")

    # Browser lookup (tools/browser); unset means tools.browser.config's defaults
    browser_allowed_domains: list[str] | None = Field(
        None, description="domains fetch_page may read (subdomains included); JSON list"
    )
    browser_max_bytes: int | None = Field(None, gt=0, description="page bytes read at most")
    browser_timeout_s: float | None = Field(None, gt=0, description="wall-clock limit per fetch")
    browser_max_redirects: int | None = Field(None, ge=0)
    browser_page_ttl_s: float | None = Field(None, ge=0, description="how long a page is cached")
    browser_lookup_ttl_s: float | None = Field(None, ge=0, description="source lookup cache TTL")
    browser_backend: Literal["local", "agentcore"] | None = Field(
        None, description="default: agentcore on the aws profile, local otherwise"
    )

    # REST API auth (agent/rest): a local HS256 issuer by default, Cognito's RS256 tokens at scale
    auth: Literal["local", "cognito"] = Field(
        "local", description="local: tokens from POST /v1/token; cognito: user pool tokens"
    )
    cognito_user_pool_id: str | None = Field(None, description="e.g. us-east-1_AbC123")
    cognito_app_client_id: str | None = Field(
        None, description="app client whose tokens are accepted; unset: any client of the pool"
    )
    cognito_jwks_url: str | None = Field(
        None, description="JWKS override (tests, moto); default <issuer>/.well-known/jwks.json"
    )
    cognito_group_roles: dict[str, str] = Field(
        default_factory=dict,
        description="Cognito group -> query-policy role, JSON; a group named like a role is it",
    )

    @field_validator("data_dir", "warehouse_path", mode="after")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @property
    def warehouse_file(self) -> Path:
        """Where the DuckDB warehouse lives."""
        return self.warehouse_path or self.data_dir / "warehouse.duckdb"

    @property
    def lake_dir(self) -> Path:
        return self.data_dir / "lake"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def memory_dir(self) -> Path:
        return self.data_dir / "memory"
