"""The REST API's /v1/query runs a partner's semantic query through the same group-size guard."""

from __future__ import annotations

from tests.agent.rest.conftest import Api
from tools.query.policy import load_policy


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


def test_partner_query_says_which_groups_are_withheld(api: Api) -> None:
    # the same note the agent's query tools give (their reason), so a client can tell the user
    query = {"measures": ["transactions"], "dimensions": ["channel"]}
    with api.as_("ana") as analyst, api.as_("pat") as partner:
        everyone = analyst.post("/v1/query", json=query)
        mine = partner.post("/v1/query", json=query)
    assert everyone.status_code == 200 and mine.status_code == 200, mine.text
    assert everyone.json()["note"] is None
    k = (load_policy().role("partner").tables or {})["ticket_sales"].min_group_size
    assert mine.json()["note"] == (
        f"ticket_sales groups of fewer than {k} rows are withheld for role partner"
    )
