"""The ingest's read-time transform: a file's text columns renamed to an entity's fields,
normalised and validated while DuckDB parses the file (`pipelines.sources.files.Transform`).

One pass and one stored copy instead of a table of text and then a validated copy of it: the
text of a row is kept only where the row fails validation, as `_record`, for the quarantine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from core.errors import SourceError
from core.schemas import ENTITY_SCHEMAS
from core.warehouse import quote_ident
from pipelines.transforms.aliases import map_columns
from pipelines.transforms.normalize import FIELD_NORMALISERS
from pipelines.transforms.validate import validation_sql

RECORD: Final = "_record"
"""The row as read (a JSON object of the file's columns), on rows that failed validation."""


@dataclass(frozen=True)
class Validation:
    """Validates a file of `entity` as it is read (a `Transform`)."""

    entity: str
    path: Path

    def mapping(self, columns: list[str]) -> dict[str, str]:
        """The file's columns that name a field of the entity: column -> field."""
        mapping = map_columns(columns, self.entity)
        if not mapping:
            raise SourceError(
                f"none of the columns {columns} of {self.path.name} fit {self.entity}",
                columns=columns,
            )
        return mapping

    def __call__(self, columns: list[str], relation: str, keep: list[str]) -> str:
        mapping = self.mapping(columns)
        texts = {column: f"_text_{i}" for i, column in enumerate(columns)}
        projections = [
            f'{FIELD_NORMALISERS.get(field, lambda e: e)(quote_ident(column))} AS "{field}"'
            for column, field in mapping.items()
        ]
        projections += [f"{quote_ident(column)} AS {text}" for column, text in texts.items()]
        projections += [quote_ident(column) for column in keep]
        mapped = f"(SELECT {', '.join(projections)} FROM {relation}) AS mapped"
        checked = validation_sql(
            ENTITY_SCHEMAS[self.entity], mapped, list(mapping.values()),
            keep=[*keep, *texts.values()],
        )  # fmt: skip
        record = ", ".join(f"{quote_ident(column)} := {text}" for column, text in texts.items())
        # CASE runs its branch only on the rows that take it: the JSON is built for bad rows only
        return (
            f"SELECT * EXCLUDE ({', '.join(texts.values())}), CASE WHEN len(_reasons) > 0 "
            f"THEN to_json(struct_pack({record})) END AS {RECORD} FROM ({checked})"
        )
