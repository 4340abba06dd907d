"""Encore's exceptions: one base, a flat set of subclasses.

    EncoreError
     ├── ConfigError          settings or environment are unusable
     ├── ValidationError      a record breaks the entity contract (carries the field errors)
     ├── WarehouseError       the warehouse could not be opened, migrated or written
     │    └── MigrationError  a migration failed or an applied one was edited
     ├── IntegrityError       the warehouse holds orphans or out-of-range values
     ├── SourceError          an external source (API, file, stream) failed
     ├── QualityGateError     an input failed a quality threshold and was not loaded
     ├── MonitoringError      metrics or alerts could not be recorded
     └── QueryRefusedError    a query was refused by the guard (carries the reason)

Third-party errors are translated at the adapter edge with `raise ... from exc`.
"""

from __future__ import annotations

from typing import Any


class EncoreError(Exception):
    """Base of every error Encore raises on purpose; `detail` carries structured context."""

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def __str__(self) -> str:
        return self.message


class ConfigError(EncoreError):
    """Settings or environment are unusable."""


class ValidationError(EncoreError):
    """A record breaks the entity contract; `detail["errors"]` lists `(field, message)` pairs."""


class WarehouseError(EncoreError):
    """The warehouse could not be opened, migrated or written."""


class MigrationError(WarehouseError):
    """A migration failed, or one already applied was changed afterwards."""


class IntegrityError(EncoreError):
    """The warehouse holds orphans, nulls in required columns or out-of-range values."""


class SourceError(EncoreError):
    """An external source (API, file, stream) failed."""


class QualityGateError(EncoreError):
    """An input broke a quality threshold (e.g. too many bad rows) and was not loaded."""


class MonitoringError(EncoreError):
    """Metrics or alerts could not be recorded or read."""


class AwsError(EncoreError):
    """An AWS API call failed; `detail` holds the action, the AWS error code and the input."""


class QueryRefusedError(EncoreError):
    """A query was refused by the guard; the message says why and what to change."""
