"""What the AWS adapters share: clients, botocore errors translated into Encore errors, and the
report of what a sync step changed."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from core.errors import AwsError, ConfigError, EncoreError
from core.settings import Settings


@dataclass
class SyncReport:
    """What one sync step did, by object name: created, updated, deleted or left as it was."""

    step: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "name: why"

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted)

    def summary(self) -> str:
        """One line: counts by outcome."""
        parts = [
            f"{len(items)} {label}"
            for label, items in (
                ("created", self.created),
                ("updated", self.updated),
                ("deleted", self.deleted),
                ("skipped", self.skipped),
            )
            if items
        ]
        return f"{self.step}: {', '.join(parts) or 'nothing to do'}"


def client(service: str, settings: Settings) -> Any:
    """A boto3 client for `service` in the settings' region and endpoint (boto3 loaded here)."""
    try:
        import boto3
    except ImportError as exc:  # the aws extra is optional
        raise ConfigError(
            "the AWS adapters need boto3: pip install 'encore[aws]'", service=service
        ) from exc
    return boto3.client(
        service, region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url
    )


def require(settings: Settings, *names: str) -> None:
    """Raise a ConfigError naming every ENCORE_ variable among `names` that is unset."""
    missing = [n for n in names if not getattr(settings, n)]
    if missing:
        variables = ", ".join(f"ENCORE_{n.upper()}" for n in missing)
        raise ConfigError(f"set {variables} first", missing=missing)


@contextmanager
def aws_call(
    action: str, *, error: type[EncoreError] = AwsError, hint: str = "", **detail: Any
) -> Iterator[None]:
    """Translate botocore errors into `error` (a ConfigError for missing credentials) saying
    what failed; `hint` ends the credentials message (e.g. how to stay local)."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        yield
    except NoCredentialsError as exc:
        raise ConfigError(
            f"cannot {action}: no AWS credentials; set AWS_PROFILE or AWS_ACCESS_KEY_ID{hint}",
            **detail,
        ) from exc
    except ClientError as exc:
        failure = exc.response.get("Error", {})
        code = str(failure.get("Code", "Unknown"))
        raise error(
            f"cannot {action}: {code}: {failure.get('Message', exc)}", code=code, **detail
        ) from exc
    except BotoCoreError as exc:
        raise error(f"cannot {action}: {exc}", code=type(exc).__name__, **detail) from exc


def describe_or_none(
    action: str, call: Any, missing: Iterable[str], **kwargs: Any
) -> dict[str, Any] | None:
    """The reply of a describe/get call, or None when AWS answers with one of the `missing`
    error codes (each service spells "not found" its own way); other errors as in aws_call."""
    from botocore.exceptions import ClientError

    with aws_call(action):
        try:
            return dict(call(**kwargs))
        except ClientError as exc:
            if error_code(exc) in set(missing):
                return None
            raise


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError ('' for anything else)."""
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""
