"""The REST API's /v1/query runs a partner's semantic query through the same group-size guard."""

from __future__ import annotations

from tests.agent.rest.conftest import Api


def test_partner_query_returns_only_groups_of_ten_sales_or_more(api: Api) -> None:
    # per event day and price tier, most partner groups hold a handful of sales
    query = {"measures": ["transactions"], "dimensions": ["event_date", "price_tier"]}
    with api.as_("ana") as analyst, api.as_("pat") as partner:
        everyone = analyst.post("/v1/query", json=query)
        mine = partner.post("/v1/query", json=query)
    assert everyone.status_code == 200 and mine.status_code == 200, mine.text
    assert any(row[2] < 10 for row in everyone.json()["rows"])
    rows = mine.json()["rows"]
    assert rows and all(row[2] >= 10 for row in rows)
