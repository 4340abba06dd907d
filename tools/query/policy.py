"""The governance policy: which tables, columns and functions each role may use (policy.yaml)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from core.errors import ConfigError, QueryRefusedError

ALL = "*"


@dataclass(frozen=True)
class TableGrant:
    """What a role may read of one table."""

    columns: frozenset[str] | None  # None: every column
    masked: dict[str, str] = field(default_factory=dict)  # column -> masking SQL
    row_filter: str | None = None
    min_group_size: int | None = None  # reads must aggregate groups of at least this many rows
    row_key: str | None = None  # the column that tells the rows apart when counting a group

    def allows(self, column: str) -> bool:
        return self.columns is None or column in self.columns

    @property
    def restricted(self) -> bool:
        """True when reads of the table go through a rewritten view (mask, filter or columns)."""
        return (
            bool(self.masked)
            or self.row_filter is not None
            or self.columns is not None
            or self.min_group_size is not None
        )


@dataclass(frozen=True)
class Role:
    """A governance role: its table grants and limits."""

    name: str
    description: str
    tables: dict[str, TableGrant] | None  # None: every table of the warehouse
    max_rows: int
    aggregate_only: bool = False
    system_catalogs: frozenset[str] = frozenset()

    def grant(self, table: str) -> TableGrant | None:
        """The role's grant on a table, or None when the table is off limits."""
        if self.tables is None:
            return TableGrant(columns=None)
        return self.tables.get(table)


@dataclass(frozen=True)
class Policy:
    """All roles, the function allow-list and the aggregates aggregate-only roles may not use."""

    roles: dict[str, Role]
    functions: frozenset[str]
    row_level_aggregates: frozenset[str] = frozenset()

    def role(self, name: str) -> Role:
        """The named role; unknown roles are refused (fail closed)."""
        try:
            return self.roles[name]
        except KeyError:
            raise QueryRefusedError(
                f"unknown role {name!r}; roles: {', '.join(sorted(self.roles))}", role=name
            ) from None


def _grant(spec: Any, where: str) -> TableGrant:
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: expected a mapping with columns/masked/row_filter")
    columns = spec.get("columns", ALL)
    masked = {str(k): str(v) for k, v in (spec.get("masked") or {}).items()}
    min_group = spec.get("min_group_size")
    row_key = spec.get("row_key")
    if min_group is not None and (not isinstance(min_group, int) or min_group < 2 or not row_key):
        raise ConfigError(
            f"{where}: min_group_size needs a whole number of at least 2 and a row_key column"
        )
    return TableGrant(
        columns=None if columns == ALL else frozenset(str(c) for c in columns),
        masked=masked,
        row_filter=spec.get("row_filter"),
        min_group_size=min_group,
        row_key=None if row_key is None else str(row_key),
    )


def parse_policy(data: dict[str, Any]) -> Policy:
    """A Policy from the YAML document's data."""
    roles = {}
    for name, spec in (data.get("roles") or {}).items():
        tables_spec = spec.get("tables", {})
        tables = (
            None
            if tables_spec == ALL
            else {t: _grant(g, f"role {name}, table {t}") for t, g in tables_spec.items()}
        )
        roles[name] = Role(
            name=name,
            description=str(spec.get("description", "")),
            tables=tables,
            max_rows=int(spec.get("max_rows", 1000)),
            aggregate_only=bool(spec.get("aggregate_only", False)),
            system_catalogs=frozenset(spec.get("system_catalogs") or ()),
        )
    if not roles:
        raise ConfigError("the query policy defines no roles")
    functions = frozenset(str(f).upper() for f in data.get("functions") or ())
    row_level = frozenset(str(f).upper() for f in data.get("row_level_aggregates") or ())
    return Policy(roles=roles, functions=functions, row_level_aggregates=row_level)


def load_policy(path: Path | None = None) -> Policy:
    """The policy at `path`, or the one shipped beside this module."""
    if path is None:
        return _default_policy()
    return parse_policy(yaml.safe_load(path.read_text(encoding="utf-8")))


@cache
def _default_policy() -> Policy:
    text = resources.files("tools.query").joinpath("policy.yaml").read_text(encoding="utf-8")
    return parse_policy(yaml.safe_load(text))
