"""Lake Formation grants from the query policy, synced against moto's server.

moto grants, revokes and lists permissions for real, but it has no data cells filters (its
list returns [] and create is not implemented); `FilterStore` keeps those in memory and passes
every other call to moto. What is tested against moto: the grants and revokes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.errors import ConfigError
from core.settings import Settings
from pipelines.aws.glue import CuratedDataset, GlueCatalog
from tools.query.lakeformation import plan_grants, sync_grants
from tools.query.policy import load_policy

from .conftest import aws_client

ACCOUNT = "123456789012"
PRINCIPALS = {
    "analyst": f"arn:aws:iam::{ACCOUNT}:role/encore-analyst",
    "partner": f"arn:aws:iam::{ACCOUNT}:role/encore-partner",
    "admin": f"arn:aws:iam::{ACCOUNT}:role/encore-admin",
}
TABLES = {
    "artists": {"artist_id": "VARCHAR", "name": "VARCHAR"},
    "concerts": {"concert_id": "VARCHAR", "artist_id": "VARCHAR"},
    "fans": {"fan_id": "VARCHAR", "city": "VARCHAR", "country": "VARCHAR", "age_band": "VARCHAR"},
    "ticket_sales": {"sale_id": "VARCHAR", "fan_id": "VARCHAR", "channel": "VARCHAR"},
}


class FilterStore:
    """A Lake Formation client whose data cells filters live in memory (moto has none)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.store: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []

    def create_data_cells_filter(self, **kwargs: Any) -> dict[str, Any]:
        data = kwargs["TableData"]
        assert data["Name"] not in self.store
        self.calls.append(f"create {data['Name']}")
        self.store[data["Name"]] = {**data, "VersionId": "1"}
        return {}

    def update_data_cells_filter(self, **kwargs: Any) -> dict[str, Any]:
        data = kwargs["TableData"]
        self.calls.append(f"update {data['Name']}")
        self.store[data["Name"]] = {**data, "VersionId": "2"}
        return {}

    def delete_data_cells_filter(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(f"delete {kwargs['Name']}")
        del self.store[kwargs["Name"]]
        return {}

    def list_data_cells_filter(self, **kwargs: Any) -> dict[str, Any]:
        return {"DataCellsFilters": list(self.store.values())}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


@pytest.fixture
def lf_settings(s3_settings: Settings) -> Settings:
    """S3-lake settings with principals, and the Glue tables the policy names."""
    datasets = [
        CuratedDataset(t, f"s3://{s3_settings.lake_bucket}/curated/{t}", cols, (), 0)
        for t, cols in TABLES.items()
    ]
    GlueCatalog(aws_client("glue", s3_settings), s3_settings.glue_database).sync(datasets)
    return s3_settings.model_copy(update={"lakeformation_principals": PRINCIPALS})


@pytest.fixture
def lakeformation(lf_settings: Settings) -> FilterStore:
    return FilterStore(aws_client("lakeformation", lf_settings))


def _held(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    """Resources granted on the settings' database, by role, as moto lists them."""
    entries = aws_client("lakeformation", settings).list_permissions()[
        "PrincipalResourcePermissions"
    ]
    by_role: dict[str, list[dict[str, Any]]] = {}
    roles = {arn: role for role, arn in PRINCIPALS.items()}
    for entry in entries:
        resource = entry["Resource"]
        inner = next(iter(resource.values()))
        if inner.get("DatabaseName") != settings.glue_database:
            continue
        role = roles[entry["Principal"]["DataLakePrincipalIdentifier"]]
        assert entry["Permissions"] == ["SELECT"]
        by_role.setdefault(role, []).append(resource)
    return {role: sorted(items, key=json.dumps) for role, items in by_role.items()}


def _sync(settings: Settings, lakeformation: FilterStore, **kw: Any) -> Any:
    return sync_grants(settings, lakeformation=lakeformation, catalog_id=ACCOUNT, **kw)


def test_policy_roles_become_column_and_row_level_grants(
    lf_settings: Settings, lakeformation: FilterStore
) -> None:
    report = _sync(lf_settings, lakeformation)
    db = lf_settings.glue_database
    held = _held(lf_settings)

    analyst = {next(iter(r.values()))["Name"]: r for r in held["analyst"]}
    assert set(analyst) == {"artists", "concerts", "fans", "ticket_sales"}  # venues: no Glue table
    assert analyst["artists"] == {"Table": {"DatabaseName": db, "Name": "artists"}}
    # fans: only the allowed columns, and fan_id withheld because Lake Formation cannot mask it
    fans = analyst["fans"]["TableWithColumns"]
    assert sorted(fans["ColumnNames"]) == ["age_band", "country", "favorite_genre"]
    # ticket_sales: every column but the masked fan id
    sales = analyst["ticket_sales"]["TableWithColumns"]
    assert sales["ColumnWildcard"] == {"ExcludedColumnNames": ["fan_id"]}

    [admin] = held["admin"]
    assert admin == {"Table": {"DatabaseName": db, "TableWildcard": {}}}

    partner = {(next(iter(r)), next(iter(r.values())).get("Name")): r for r in held["partner"]}
    row_filtered = partner[("DataCellsFilter", "encore_partner_ticket_sales")]["DataCellsFilter"]
    assert row_filtered["TableName"] == "ticket_sales"
    stored = lakeformation.store["encore_partner_ticket_sales"]
    assert stored["RowFilter"] == {"FilterExpression": "channel = 'partner'"}
    assert "fan_id" not in stored["ColumnNames"] and "channel" in stored["ColumnNames"]
    assert sorted(partner[("TableWithColumns", "fans")]["TableWithColumns"]["ColumnNames"]) == [
        "age_band", "country", "favorite_genre"
    ]  # fmt: skip

    assert "role partner: aggregate_only is enforced by the query guard only" in report.skipped
    assert any("table venues: not in Glue database" in s for s in report.skipped)
    assert report.created and not report.deleted


def test_sync_is_idempotent_and_revokes_what_the_policy_no_longer_allows(
    lf_settings: Settings, lakeformation: FilterStore, tmp_path: Path
) -> None:
    _sync(lf_settings, lakeformation)
    before = _held(lf_settings)
    again = _sync(lf_settings, lakeformation)
    assert not again.changed, again
    assert _held(lf_settings) == before

    # someone grants analysts the whole fans table by hand: the sync takes it back
    lf = aws_client("lakeformation", lf_settings)
    lf.grant_permissions(
        Principal={"DataLakePrincipalIdentifier": PRINCIPALS["analyst"]},
        Resource={"Table": {"DatabaseName": lf_settings.glue_database, "Name": "fans"}},
        Permissions=["SELECT"],
    )
    fixed = _sync(lf_settings, lakeformation)
    assert fixed.deleted == ["grant encore-analyst on fans"]
    assert _held(lf_settings) == before

    # the partner's row filter changes: the filter is updated in place, the grant stays
    data = yaml.safe_load(Path("tools/query/policy.yaml").read_text())
    data["roles"]["partner"]["tables"]["ticket_sales"]["row_filter"] = "channel = 'web'"
    edited = tmp_path / "edited.yaml"
    edited.write_text(yaml.safe_dump(data))
    refiltered = _sync(lf_settings, lakeformation, policy=load_policy(edited))
    assert refiltered.updated == ["filter encore_partner_ticket_sales"]
    assert not refiltered.created and not refiltered.deleted
    stored = lakeformation.store["encore_partner_ticket_sales"]["RowFilter"]
    assert stored == {"FilterExpression": "channel = 'web'"}

    # the policy drops partners' ticket sales: grant and filter go
    del data["roles"]["partner"]["tables"]["ticket_sales"]
    changed = tmp_path / "policy.yaml"
    changed.write_text(yaml.safe_dump(data))
    shrunk = _sync(lf_settings, lakeformation, policy=load_policy(changed))
    assert set(shrunk.deleted) == {
        "grant encore-partner on ticket_sales through filter encore_partner_ticket_sales",
        "filter encore_partner_ticket_sales",
    }
    assert lakeformation.store == {}
    partner_tables = {next(iter(r.values())).get("Name") for r in _held(lf_settings)["partner"]}
    assert (
        "ticket_sales" not in partner_tables and "encore_partner_ticket_sales" not in partner_tables
    )


def test_principals_are_required_and_must_name_policy_roles(s3_settings: Settings) -> None:
    with pytest.raises(ConfigError, match="ENCORE_LAKEFORMATION_PRINCIPALS"):
        sync_grants(s3_settings)
    with pytest.raises(ConfigError, match="roles the policy lacks: auditor"):
        plan_grants(load_policy(), {"auditor": "arn:aws:iam::1:role/x"}, "encore", TABLES)


def test_grants_before_the_catalog_say_to_sync_it_first(
    lf_settings: Settings, lakeformation: FilterStore
) -> None:
    from core.errors import AwsError

    settings = lf_settings.model_copy(update={"glue_database": "never_synced"})
    with pytest.raises(AwsError, match=r"run `encore aws sync --catalog` first"):
        _sync(settings, lakeformation)


def test_roles_without_a_principal_get_nothing() -> None:
    plan = plan_grants(load_policy(), {"analyst": PRINCIPALS["analyst"]}, "db", TABLES)
    assert {arn for arn, _ in plan.grants} == {PRINCIPALS["analyst"]}
    assert "role partner: no principal in ENCORE_LAKEFORMATION_PRINCIPALS" in plan.notes
    assert all(json.loads(key) for _, key in plan.grants)
