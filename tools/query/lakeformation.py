"""The query policy as Lake Formation grants (requirement 5.5): governance at scale.

Each policy role maps to an IAM principal (`ENCORE_LAKEFORMATION_PRINCIPALS`, role -> ARN) and
gets SELECT on the Glue tables of `ENCORE_GLUE_DATABASE` it may read:

    every column              Table
    some columns              TableWithColumns + ColumnNames
    all but some              TableWithColumns + ColumnWildcard.ExcludedColumnNames
    a row filter              a data cells filter (rows + columns), SELECT on the filter
    every table (admin)       Table + TableWildcard

Lake Formation cannot mask, so masked columns (fan_id shown as md5 to analysts) are withheld,
which fails closed. `aggregate_only`, `min_group_size` and `max_rows` have no Lake Formation
counterpart; the query guard keeps enforcing them and the report says so. Syncing grants what is
missing and revokes what the policy no longer allows, for the mapped principals on this database
only; the data cells filters it manages are named `encore_<role>_<table>`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from core.aws import SyncReport, aws_call, client
from core.errors import ConfigError
from core.settings import Settings
from tools.query.policy import Policy, load_policy

log = logging.getLogger(__name__)

FILTER_PREFIX: Final = "encore_"
PERMISSIONS: Final = ("SELECT",)


@dataclass(frozen=True)
class CellsFilter:
    """A data cells filter: the rows (and columns) of one table a role may read."""

    name: str
    table: str
    row_filter: str
    columns: tuple[str, ...] | None  # None: every column except `excluded`
    excluded: tuple[str, ...] = ()

    def table_data(self, database: str, catalog_id: str) -> dict[str, Any]:
        """The DataCellsFilter structure of the Lake Formation API."""
        data: dict[str, Any] = {
            "TableCatalogId": catalog_id,
            "DatabaseName": database,
            "TableName": self.table,
            "Name": self.name,
            "RowFilter": {"FilterExpression": self.row_filter},
        }
        if self.columns is not None:
            data["ColumnNames"] = list(self.columns)
        else:
            data["ColumnWildcard"] = {"ExcludedColumnNames": list(self.excluded)}
        return data


@dataclass
class GrantPlan:
    """What the policy asks of Lake Formation: grants by (principal, resource) and filters."""

    grants: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    filters: dict[str, CellsFilter] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def resource_key(resource: Mapping[str, Any]) -> str:
    """A canonical form of a grant's resource: catalog ids dropped, column lists sorted."""

    def clean(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {
                k: clean(v) for k, v in value.items() if k not in ("CatalogId", "TableCatalogId")
            }
        if isinstance(value, list):
            return sorted(clean(v) for v in value)
        return value

    return json.dumps(clean(resource), sort_keys=True)


def plan_grants(
    policy: Policy, principals: Mapping[str, str], database: str, tables: Iterable[str]
) -> GrantPlan:
    """The grants and data cells filters that give each mapped role what the policy allows."""
    unknown = sorted(set(principals) - set(policy.roles))
    if unknown:
        raise ConfigError(
            f"ENCORE_LAKEFORMATION_PRINCIPALS names roles the policy lacks: {', '.join(unknown)}; "
            f"roles: {', '.join(sorted(policy.roles))}",
            roles=unknown,
        )
    present = set(tables)
    plan = GrantPlan()
    for name, role in sorted(policy.roles.items()):
        arn = principals.get(name)
        if arn is None:
            plan.notes.append(f"role {name}: no principal in ENCORE_LAKEFORMATION_PRINCIPALS")
            continue
        if role.aggregate_only:
            plan.notes.append(f"role {name}: aggregate_only is enforced by the query guard only")
        if role.tables is None:
            every = {"Table": {"DatabaseName": database, "TableWildcard": {}}}
            plan.grants[(arn, resource_key(every))] = frozenset(PERMISSIONS)
            continue
        for table, grant in sorted(role.tables.items()):
            if table not in present:
                plan.notes.append(f"role {name}, table {table}: not in Glue database {database}")
                continue
            if grant.min_group_size is not None:
                plan.notes.append(
                    f"role {name}, table {table}: min_group_size {grant.min_group_size} is "
                    "enforced by the query guard only"
                )
            hidden = set(grant.masked)  # Lake Formation cannot mask: withhold (fail closed)
            columns = None if grant.columns is None else sorted(grant.columns - hidden)
            if columns == []:
                plan.notes.append(f"role {name}, table {table}: every allowed column is masked")
                continue
            if grant.row_filter:
                cells = CellsFilter(
                    name=f"{FILTER_PREFIX}{name}_{table}",
                    table=table,
                    row_filter=grant.row_filter,
                    columns=None if columns is None else tuple(columns),
                    excluded=tuple(sorted(hidden)) if columns is None else (),
                )
                plan.filters[cells.name] = cells
                resource: dict[str, Any] = {
                    "DataCellsFilter": {
                        "DatabaseName": database,
                        "TableName": table,
                        "Name": cells.name,
                    }
                }
            elif columns is None and not hidden:
                resource = {"Table": {"DatabaseName": database, "Name": table}}
            else:
                selection: dict[str, Any] = (
                    {"ColumnNames": columns}
                    if columns is not None
                    else {"ColumnWildcard": {"ExcludedColumnNames": sorted(hidden)}}
                )
                resource = {
                    "TableWithColumns": {"DatabaseName": database, "Name": table, **selection}
                }
            plan.grants[(arn, resource_key(resource))] = frozenset(PERMISSIONS)
    return plan


def _resource_database(resource: Mapping[str, Any]) -> str | None:
    """The database of a table-level resource (the kinds this sync manages), else None."""
    for kind in ("Table", "TableWithColumns", "DataCellsFilter"):
        if kind in resource:
            return str(resource[kind]["DatabaseName"])
    return None


class LakeFormationGrants:
    """Keeps the grants of some principals on one Glue database equal to a plan."""

    def __init__(self, client: Any, database: str, catalog_id: str) -> None:
        self.client = client
        self.database = database
        self.catalog_id = catalog_id

    def current(self, principals: Iterable[str]) -> dict[tuple[str, str], frozenset[str]]:
        """Permissions the principals hold on this database, by (principal, resource)."""
        wanted = set(principals)
        held: dict[tuple[str, str], frozenset[str]] = {}
        token: str | None = None
        with aws_call("list Lake Formation permissions", database=self.database):
            while True:
                page = self.client.list_permissions(
                    CatalogId=self.catalog_id, **({"NextToken": token} if token else {})
                )
                for entry in page.get("PrincipalResourcePermissions", []):
                    arn = entry["Principal"]["DataLakePrincipalIdentifier"]
                    if arn not in wanted or _resource_database(entry["Resource"]) != self.database:
                        continue
                    key = (arn, resource_key(entry["Resource"]))
                    held[key] = held.get(key, frozenset()) | frozenset(entry["Permissions"])
                token = page.get("NextToken")
                if not token:
                    return held

    def filters(self) -> dict[str, dict[str, Any]]:
        """The data cells filters this sync manages on the database, by name."""
        found: dict[str, dict[str, Any]] = {}
        token: str | None = None
        with aws_call("list Lake Formation data cells filters", database=self.database):
            while True:
                page = self.client.list_data_cells_filter(**({"NextToken": token} if token else {}))
                for item in page.get("DataCellsFilters", []):
                    if item["DatabaseName"] == self.database and item["Name"].startswith(
                        FILTER_PREFIX
                    ):
                        found[item["Name"]] = item
                token = page.get("NextToken")
                if not token:
                    return found

    def sync(self, plan: GrantPlan, principals: Iterable[str]) -> SyncReport:
        """Create or update filters, grant what is missing, revoke what is extra."""
        report = SyncReport("grants", skipped=list(plan.notes))
        existing_filters = self.filters()
        for name, cells in sorted(plan.filters.items()):
            data = cells.table_data(self.database, self.catalog_id)
            if name not in existing_filters:
                with aws_call(f"create data cells filter {name}", filter=name):
                    self.client.create_data_cells_filter(TableData=data)
                report.created.append(f"filter {name}")
            elif not _same_filter(existing_filters[name], data):
                with aws_call(f"update data cells filter {name}", filter=name):
                    self.client.update_data_cells_filter(TableData=data)
                report.updated.append(f"filter {name}")
        held = self.current(principals)
        for (arn, key), permissions in sorted(plan.grants.items()):
            have = held.get((arn, key), frozenset())
            label = f"{_role_label(arn)} {_describe(key)}"
            if missing := permissions - have:
                self._change("grant", arn, key, missing)
                (report.updated if have else report.created).append(f"grant {label}")
            if extra := have - permissions:
                self._change("revoke", arn, key, extra)
                report.updated.append(f"revoke {sorted(extra)} {label}")
            if not missing and not extra:
                report.skipped.append(f"grant {label}: up to date")
        for (arn, key), permissions in sorted(held.items()):
            if (arn, key) not in plan.grants:
                self._change("revoke", arn, key, permissions)
                report.deleted.append(f"grant {_role_label(arn)} {_describe(key)}")
        for name, item in sorted(existing_filters.items()):
            if name not in plan.filters:
                with aws_call(f"delete data cells filter {name}", filter=name):
                    self.client.delete_data_cells_filter(
                        TableCatalogId=item.get("TableCatalogId", self.catalog_id),
                        DatabaseName=self.database,
                        TableName=item["TableName"],
                        Name=name,
                    )
                report.deleted.append(f"filter {name}")
        return report

    def _change(self, verb: str, arn: str, key: str, permissions: Iterable[str]) -> None:
        resource = _with_catalog(json.loads(key), self.catalog_id)
        call = self.client.grant_permissions if verb == "grant" else self.client.revoke_permissions
        with aws_call(f"{verb} {sorted(permissions)} on {_describe(key)} to {arn}", principal=arn):
            call(
                CatalogId=self.catalog_id,
                Principal={"DataLakePrincipalIdentifier": arn},
                Resource=resource,
                Permissions=sorted(permissions),
            )


def _same_filter(existing: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """Whether a listed filter says what `wanted` says (extra fields such as VersionId aside)."""
    return resource_key({k: existing.get(k) for k in wanted}) == resource_key(wanted)


def _with_catalog(resource: dict[str, Any], catalog_id: str) -> dict[str, Any]:
    """The resource as the API takes it (a data cells filter names its table's catalog)."""
    if "DataCellsFilter" in resource:
        resource["DataCellsFilter"] = {"TableCatalogId": catalog_id, **resource["DataCellsFilter"]}
    return resource


def _role_label(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def _describe(key: str) -> str:
    """A short human form of a resource key: 'SELECT fans(age_band, country)'."""
    resource = json.loads(key)
    kind, inner = next(iter(resource.items()))
    if kind == "Table":
        return f"on {inner.get('Name', '*')}" + (
            " (all tables)" if "TableWildcard" in inner else ""
        )
    if kind == "TableWithColumns":
        if "ColumnNames" in inner:
            return f"on {inner['Name']}({', '.join(inner['ColumnNames'])})"
        excluded = inner.get("ColumnWildcard", {}).get("ExcludedColumnNames", [])
        return f"on {inner['Name']}(* except {', '.join(excluded)})"
    if kind == "DataCellsFilter":
        return f"on {inner['TableName']} through filter {inner['Name']}"
    return f"on {key}"


def sync_grants(
    settings: Settings,
    *,
    policy: Policy | None = None,
    lakeformation: Any = None,
    glue: Any = None,
    catalog_id: str | None = None,
) -> SyncReport:
    """Make Lake Formation grant the mapped principals what the query policy allows."""
    if not settings.lakeformation_principals:
        raise ConfigError(
            "set ENCORE_LAKEFORMATION_PRINCIPALS to a JSON object of role -> IAM principal ARN, "
            'e.g. {"analyst": "arn:aws:iam::123456789012:role/encore-analyst"}'
        )
    policy = policy or load_policy()
    glue = glue or client("glue", settings)
    lakeformation = lakeformation or client("lakeformation", settings)
    if catalog_id is None:
        with aws_call("read the AWS account id"):
            catalog_id = str(client("sts", settings).get_caller_identity()["Account"])
    tables: list[str] = []
    action = (
        f"list the tables of Glue database {settings.glue_database} "
        "(run `encore aws sync --catalog` first)"
    )
    with aws_call(action, database=settings.glue_database):
        for page in glue.get_paginator("get_tables").paginate(DatabaseName=settings.glue_database):
            tables.extend(t["Name"] for t in page["TableList"])
    plan = plan_grants(policy, settings.lakeformation_principals, settings.glue_database, tables)
    grants = LakeFormationGrants(lakeformation, settings.glue_database, catalog_id)
    return grants.sync(plan, settings.lakeformation_principals.values())
