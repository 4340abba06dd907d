"""What every API connector yields: accepted entities, rejects with reasons, and the raw payloads.

A connector never drops a record silently. Each item a source returns either validates against its
`core.schemas` entity and lands in `Batch.accepted`, or lands in `Batch.rejects` with the
`(field, message)` reasons, the record as mapped and the source item as received. Every HTTP
response body is kept in `Batch.raw` so the lake's raw zone can store exactly what the source sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from core.errors import ValidationError
from core.schemas import Entity, VenueType, validate_record

T = TypeVar("T")
E = TypeVar("E", bound=Entity)


def source_id(source: str, native_id: object) -> str:
    """Qualify a source id (`ticketmaster:K8vZ917Kew0`) so ids never collide across sources."""
    return f"{source}:{native_id}"


def obj(value: Any) -> Mapping[str, Any]:
    """`value` if it is a JSON object, else an empty one: API fields are often absent or null."""
    return value if isinstance(value, Mapping) else {}


def dig(data: Any, *path: str | int) -> Any:
    """Walk nested objects and arrays, returning None at the first missing step."""
    for step in path:
        if isinstance(step, int):
            if not isinstance(data, list) or len(data) <= step:
                return None
            data = data[step]
        elif isinstance(data, Mapping):
            data = data.get(step)
        else:
            return None
    return data


def compact(schema: type[Entity], record: Mapping[str, Any]) -> dict[str, Any]:
    """Drop `None` from the fields `schema` requires, keeping it for the optional ones.

    A required field left out is reported as missing rather than as a type error; an optional field
    stays in the record as an explicit None, meaning "this source does not know".
    """
    required = {name for name, info in schema.model_fields.items() if info.is_required()}
    return {key: value for key, value in record.items() if value is not None or key not in required}


@dataclass(frozen=True)
class RawPayload:
    """One HTTP response body as the source sent it, with where and when it came from."""

    source: str
    method: str
    url: str
    """The request URL with secrets redacted; safe to store and log."""
    status: int
    body: Any
    fetched_at: datetime
    attempts: int
    elapsed_s: float


@dataclass(frozen=True)
class Reject:
    """A source item that could not become an entity, and why."""

    source: str
    entity: str
    source_id: str | None
    reasons: tuple[tuple[str, str], ...]
    """`(field, message)` pairs, as `core.schemas.field_errors` produces them."""
    record: Mapping[str, Any]
    """The record as mapped, so a fix-up step can complete it instead of re-fetching."""
    item: Any
    """The source item as received."""


@dataclass
class Batch(Generic[T]):
    """The result of one fetch: accepted records, rejects and the raw responses behind them."""

    source: str
    entity: str
    accepted: list[T] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    raw: list[RawPayload] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.accepted) + len(self.rejects)

    def reject(
        self,
        item: Any,
        reasons: list[tuple[str, str]] | tuple[tuple[str, str], ...],
        *,
        record: Mapping[str, Any] | None = None,
        item_id: str | None = None,
    ) -> None:
        """Record an item that could not be mapped or validated."""
        self.rejects.append(
            Reject(
                source=self.source,
                entity=self.entity,
                source_id=item_id,
                reasons=tuple(reasons),
                record=dict(record or {}),
                item=item,
            )
        )

    def extend(self, other: Batch[T]) -> None:
        """Append another batch of the same source and entity (e.g. the next page)."""
        self.accepted.extend(other.accepted)
        self.rejects.extend(other.rejects)
        self.raw.extend(other.raw)


def collect(
    batch: Batch[E],
    schema: type[E],
    items: list[Any],
    mapper: Callable[[Mapping[str, Any]], dict[str, Any]],
) -> Batch[E]:
    """Map each item, validate it against `schema`, and sort it into accepted or rejected."""
    for item in items:
        if not isinstance(item, Mapping):
            batch.reject(item, [("record", f"expected a JSON object, got {type(item).__name__}")])
            continue
        native = item.get("id") or item.get("mbid")
        item_id = None if native is None else str(native)
        try:
            record = mapper(item)
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            # Mappers are written defensively; anything still raised is a shape we did not expect
            # (ArithmeticError: `Decimal("n/a")` raises InvalidOperation).
            batch.reject(item, [("record", f"unexpected shape: {exc!r}")], item_id=item_id)
            continue
        try:
            batch.accepted.append(validate_record(schema, record))
        except ValidationError as exc:
            batch.reject(item, exc.detail["errors"], record=record, item_id=item_id)
    return batch


class Connector(Protocol):
    """What pipelines need from every API connector besides its fetch methods."""

    source: str

    def close(self) -> None:
        """Release the HTTP connections."""


_VENUE_TYPE_WORDS: tuple[tuple[re.Pattern[str], VenueType], ...] = (
    (re.compile(r"\bamphithea(?:ter|tre)\b", re.IGNORECASE), "amphitheater"),
    (re.compile(r"\bstadi(?:um|o|on)\b", re.IGNORECASE), "stadium"),
    (re.compile(r"\barena\b", re.IGNORECASE), "arena"),
    (re.compile(r"\bthea(?:ter|tre)\b", re.IGNORECASE), "theater"),
    (re.compile(r"\bclub\b", re.IGNORECASE), "club"),
)


def infer_venue_type(name: str | None) -> VenueType | None:
    """Venue type when the name states it outright ("Saitama Super Arena"), else None."""
    # APIs do not report a venue type; guessing beyond an explicit word would invent data.
    if not name:
        return None
    for pattern, venue_type in _VENUE_TYPE_WORDS:
        if pattern.search(name):
            return venue_type
    return None
