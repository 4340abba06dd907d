"""Aggregate-only roles get statistics of groups, never the rows: minimum group sizes and row-level
aggregates (the auditor's B7: GROUP BY a unique column, or list(), returned every partner sale)."""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path

import pytest
import yaml
from sqlglot import exp

from core.errors import ConfigError, EncoreError, QueryRefusedError
from core.settings import Settings
from core.warehouse import reading
from tests.conftest import query_warehouse
from tools.context import ToolContext
from tools.query.guard import ROW_KEY, Schema, check
from tools.query.lake_engine import lake_policy
from tools.query.policy import Policy, load_policy, parse_policy
from tools.query.runner import execute_with_timeout, run_sql
from tools.query.semantic import semantic_query

K = 10  # policy.yaml: partner's min_group_size on ticket_sales and fans


@pytest.fixture
def partner(query_settings: Settings) -> ToolContext:
    return ToolContext(query_settings, role="partner")


@pytest.fixture(scope="module")
def big_sold_at(query_settings: Settings) -> set[object]:
    """sold_at values shared by at least K partner sales (the only ones a partner may see)."""
    rows = query_warehouse(
        query_settings,
        "SELECT sold_at FROM ticket_sales WHERE channel = 'partner' GROUP BY 1 "
        f"HAVING COUNT(*) >= {K}",
    )
    return {r[0] for r in rows}


def test_policy_declares_the_minimum_group_size(policy: Policy) -> None:
    grants = policy.role("partner").tables or {}
    assert grants["ticket_sales"].min_group_size == K
    assert grants["fans"].min_group_size == K
    assert {"ARRAY_AGG", "GROUP_CONCAT", "FIRST", "ANY_VALUE", "ARG_MAX"} <= (
        policy.row_level_aggregates
    )


def test_audit_group_by_unique_columns_returns_no_single_sale(
    partner: ToolContext, query_settings: Settings
) -> None:
    sql = (
        "SELECT sold_at, concert_id, sum(amount) a, count(*) n FROM ticket_sales "
        "GROUP BY sold_at, concert_id"
    )
    # before the fix this returned every partner sale, n = 1 on each row
    partner_sales = query_warehouse(
        query_settings, "SELECT COUNT(*) FROM ticket_sales WHERE channel = 'partner'"
    )[0][0]
    assert isinstance(partner_sales, int) and partner_sales > 1000
    result = run_sql(partner, sql)
    assert all(row["n"] >= K for row in result.records())
    assert result.row_count == 0
    assert f"fewer than {K} rows are withheld for role partner" in result.reason


def test_audit_list_is_refused_with_the_reason(partner: ToolContext) -> None:
    with pytest.raises(QueryRefusedError) as info:
        run_sql(partner, "SELECT list(unit_price) FROM ticket_sales")
    assert "list()" in info.value.message
    assert "grouped rows' own values" in info.value.message
    assert "aggregates only" in info.value.message


@pytest.mark.parametrize(
    "call",
    [
        "list(unit_price)",
        "array_agg(amount)",
        "string_agg(price_tier, ',')",
        "group_concat(price_tier)",
        "listagg(price_tier, ',')",
        "first(amount)",
        "last(amount)",
        "any_value(sold_at)",
        "arg_max(sold_at, amount)",
        "arg_min(sold_at, amount)",
        "argmax(sold_at, amount)",
        "max_by(sold_at, amount)",
        "min_by(sold_at, amount)",
    ],
)
def test_row_level_aggregates_are_refused_for_partner_not_analyst(
    call: str, policy: Policy, schema: Schema
) -> None:
    sql = f"SELECT concert_id, {call} AS x FROM ticket_sales GROUP BY concert_id"
    with pytest.raises(QueryRefusedError, match="grouped rows' own values"):
        check(sql, policy.role("partner"), policy, schema)
    check(sql, policy.role("analyst"), policy, schema)  # analysts read rows anyway


# Attempts to read single partner sales back. Each is refused with a reason, or returns only
# sold_at values that at least K partner sales share.
LEAKS = {
    "cross join inflates count(*)": "SELECT s.sold_at, SUM(s.amount) a, COUNT(*) n "
    "FROM ticket_sales s CROSS JOIN venues v GROUP BY s.sold_at",
    "self join": "SELECT a.sold_at, SUM(b.amount) t FROM ticket_sales a "
    "JOIN ticket_sales b ON a.concert_id = b.concert_id GROUP BY a.sold_at",
    "group by all": "SELECT sold_at, amount, COUNT(*) n FROM ticket_sales GROUP BY ALL",
    "rollup": "SELECT sold_at, concert_id, SUM(amount) a FROM ticket_sales "
    "GROUP BY ROLLUP (sold_at, concert_id)",
    "grouping sets": "SELECT sold_at, SUM(amount) a FROM ticket_sales "
    "GROUP BY GROUPING SETS ((sold_at), ())",
    "own having": "SELECT sold_at, SUM(amount) a FROM ticket_sales GROUP BY sold_at "
    "HAVING COUNT(*) = 1",
    "pre-aggregated cte": "WITH t AS (SELECT sold_at, SUM(amount) a FROM ticket_sales "
    "GROUP BY sold_at) SELECT sold_at, SUM(a) a FROM t GROUP BY sold_at",
    "union branch": "SELECT channel AS sold_at, SUM(amount) a FROM ticket_sales GROUP BY 1 "
    "UNION ALL SELECT CAST(sold_at AS VARCHAR), SUM(amount) FROM ticket_sales GROUP BY 1",
    "one sale by filter": "SELECT MAX(sold_at) AS sold_at, SUM(amount) a FROM ticket_sales "
    "WHERE sold_at = (SELECT MAX(sold_at) FROM ticket_sales)",
    "window over groups": "SELECT sold_at, SUM(SUM(amount)) OVER () a FROM ticket_sales "
    "GROUP BY sold_at",
    "correlated aggregate": "SELECT c.concert_id, (SELECT MAX(s.sold_at) FROM ticket_sales s "
    "WHERE s.concert_id = c.concert_id AND s.amount > 1000) AS sold_at FROM concerts c "
    "GROUP BY c.concert_id",
    "expression unique per row": "SELECT EPOCH(sold_at) * 1000 + amount AS sold_at, COUNT(*) n "
    "FROM ticket_sales GROUP BY 1",
    # refused: the table's rows would leave a SELECT that does not aggregate
    "rows through a cte": "WITH t AS (SELECT sold_at, amount FROM ticket_sales) "
    "SELECT sold_at, SUM(amount) a FROM t GROUP BY sold_at",
    "rows through a subquery": "SELECT sold_at, SUM(amount) a FROM (SELECT sold_at, amount "
    "FROM ticket_sales) t GROUP BY sold_at",
    "scalar subquery": "SELECT (SELECT sold_at FROM ticket_sales LIMIT 1 OFFSET 7) AS sold_at, "
    "COUNT(*) n FROM venues GROUP BY ALL",
    "exists probe": "SELECT COUNT(*) n FROM venues WHERE EXISTS (SELECT 1 FROM ticket_sales "
    "WHERE amount = 38)",
    "window over rows": "SELECT sold_at, SUM(amount) OVER (PARTITION BY sold_at) a "
    "FROM ticket_sales",
    "distinct on": "SELECT DISTINCT ON (concert_id) concert_id, sold_at FROM ticket_sales",
    "lateral": "SELECT c.concert_id, COUNT(*) n FROM concerts c, LATERAL (SELECT sold_at "
    "FROM ticket_sales s WHERE s.concert_id = c.concert_id) x GROUP BY c.concert_id",
}


@pytest.mark.parametrize("name", sorted(LEAKS))
def test_single_sales_do_not_leak(
    name: str, partner: ToolContext, big_sold_at: set[object]
) -> None:
    try:
        result = run_sql(partner, LEAKS[name])
    except QueryRefusedError as exc:
        assert "partner" in exc.message or "not allowed" in exc.message, exc.message
        return
    for record in result.records():
        for column in ("sold_at",):
            value = record.get(column)
            if value is not None and value != "partner":
                assert value in big_sold_at, (name, record)
        if "n" in record and record["n"] is not None:
            assert record["n"] >= K, (name, record)


def test_small_fan_groups_are_withheld(partner: ToolContext, query_settings: Settings) -> None:
    truth = {
        (c, a, g): int(str(n))
        for c, a, g, n in query_warehouse(
            query_settings,
            "SELECT country, age_band, favorite_genre, COUNT(*) FROM fans GROUP BY ALL",
        )
    }
    assert any(n < K for n in truth.values()) and any(n >= K for n in truth.values())
    result = run_sql(
        partner,
        "SELECT country, age_band, favorite_genre, COUNT(*) AS n FROM fans GROUP BY ALL",
    )
    got = {(r["country"], r["age_band"], r["favorite_genre"]): r["n"] for r in result.records()}
    assert got == {key: n for key, n in truth.items() if n >= K}


def test_partner_questions_still_answered(partner: ToolContext, query_settings: Settings) -> None:
    """Tickets by genre and revenue by state, as SQL and as semantic queries."""
    by_genre = run_sql(
        partner,
        "SELECT a.genre, SUM(s.quantity) AS tickets FROM ticket_sales s "
        "JOIN concerts c USING (concert_id) JOIN artists a USING (artist_id) GROUP BY a.genre",
    )
    truth = query_warehouse(
        query_settings,
        "SELECT a.genre, SUM(s.quantity), COUNT(*) FROM ticket_sales s JOIN concerts c "
        "USING (concert_id) JOIN artists a USING (artist_id) WHERE s.channel = 'partner' "
        "GROUP BY 1",
    )
    assert {r["genre"]: r["tickets"] for r in by_genre.records()} == {
        g: t for g, t, n in truth if isinstance(n, int) and n >= K
    }
    assert by_genre.row_count >= 4

    by_state = run_sql(
        partner,
        "SELECT v.state, SUM(s.amount) AS revenue FROM ticket_sales s "
        "JOIN concerts c USING (concert_id) JOIN venues v USING (venue_id) "
        "GROUP BY v.state ORDER BY revenue DESC",
    )
    assert by_state.row_count >= 5

    # concert results are not per-sale rows: no minimum group size there
    performance = semantic_query(partner, measures=["gross_revenue"], dimensions=["state"])
    states = query_warehouse(
        query_settings,
        "SELECT COUNT(DISTINCT v.state) FROM concert_performance cp JOIN venues v USING (venue_id)",
    )[0][0]
    assert performance.row_count == states
    assert "withheld" not in performance.reason

    tiers = semantic_query(partner, measures=["tickets_sold"], dimensions=["price_tier"])
    assert tiers.row_count >= 2
    assert "ticket_sales groups of fewer than 10 rows are withheld" in tiers.reason


def test_semantic_layer_cannot_split_sales_to_single_rows(
    partner: ToolContext, query_settings: Settings
) -> None:
    """The semantic path runs the same guard: per-day sales of one channel hold small groups."""
    truth = query_warehouse(
        query_settings,
        "SELECT c.event_date, COUNT(*) FROM ticket_sales s JOIN concerts c USING (concert_id) "
        "WHERE s.channel = 'partner' GROUP BY 1",
    )
    big = {d for d, n in truth if isinstance(n, int) and n >= K}
    assert len(big) < len(truth)
    result = semantic_query(
        partner, measures=["transactions"], dimensions=["event_date", "price_tier"]
    )
    for record in result.records():
        assert record["transactions"] >= K
        assert dt.date.fromisoformat(record["event_date"]) in big


def test_lake_relations_carry_the_same_group_sizes(policy: Policy) -> None:
    lake = lake_policy(policy)
    assert lake.row_level_aggregates == policy.row_level_aggregates
    schema: Schema = {
        "main": {
            "curated_ticket_sales": {
                "sale_id": "VARCHAR", "sold_at": "TIMESTAMP", "amount": "DOUBLE",
                "channel": "VARCHAR", "concert_id": "VARCHAR", "dt": "DATE",
            }
        }
    }  # fmt: skip
    checked = check(
        "SELECT sold_at, SUM(amount) FROM curated_ticket_sales GROUP BY sold_at",
        lake.role("partner"),
        lake,
        schema,
    )
    having = [s.args.get("having") for s in checked.expression.find_all(exp.Select)]
    assert any(h is not None and ROW_KEY in h.sql() for h in having)
    with pytest.raises(QueryRefusedError, match="own values"):
        check("SELECT list(amount) FROM curated_ticket_sales", lake.role("partner"), lake, schema)


def test_min_group_size_needs_a_row_key() -> None:
    data = yaml.safe_load((Path(__file__).parents[3] / "tools/query/policy.yaml").read_text())
    del data["roles"]["partner"]["tables"]["ticket_sales"]["row_key"]
    with pytest.raises(ConfigError, match="row_key"):
        parse_policy(data)


def _embeddings(payload: str) -> list[str]:
    return [
        "SELECT sold_at, SUM(amount) AS total FROM ticket_sales "
        f"WHERE price_tier = '{payload}' GROUP BY sold_at",
        f"SELECT sold_at, COUNT(*) AS n FROM ticket_sales WHERE quantity = 1 {payload} "
        "GROUP BY sold_at",
    ]


def test_sqli_payloads_never_return_single_partner_sales(
    shared_data: Path, query_settings: Settings, schema: Schema, big_sold_at: set[object]
) -> None:
    """PayloadsAllTheThings payloads inside a partner's query: refused, or groups of K or more."""
    policy = load_policy()
    role = policy.role("partner")
    payloads: list[str] = []
    for path in sorted((shared_data / "sqli-payloads-payloadsallthethings").glob("*.txt")):
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        payloads += [line.strip() for line in text.splitlines() if line.strip()]
    payloads = list(dict.fromkeys(payloads))
    assert len(payloads) > 1000
    accepted = 0
    with reading(query_settings) as con:
        for payload in payloads:
            for sql in _embeddings(payload):
                try:
                    checked = check(sql, role, policy, schema)
                except QueryRefusedError:
                    continue
                accepted += 1
                assert f'COUNT(DISTINCT ticket_sales."{ROW_KEY}") >= {K}' in checked.sql, sql
                with contextlib.suppress(EncoreError):
                    fetched = execute_with_timeout(con, checked.sql, 2.0, checked.fetch)
                    for row in fetched.rows:
                        value = row[0]
                        if isinstance(value, str | type(None)):
                            continue  # a UNION branch of literals, or the partner channel
                        assert value in big_sold_at, (sql, row)
    assert accepted > 50


def test_lake_formation_plan_says_the_guard_alone_enforces_group_sizes(policy: Policy) -> None:
    from tools.query.lakeformation import plan_grants

    arn = "arn:aws:iam::123456789012:role/partner"
    plan = plan_grants(policy, {"partner": arn}, "db", ["ticket_sales", "fans", "venues"])
    assert (
        f"role partner, table ticket_sales: min_group_size {K} is enforced by the query guard only"
        in plan.notes
    )


async def test_the_mcp_tools_apply_the_same_guard(query_settings: Settings) -> None:
    """A partner's MCP client (stdio, HTTP or Claude Desktop) reaches the same refusals."""
    from mcp.shared.memory import create_connected_server_and_client_session

    from mcp_servers import build_server

    server = build_server("warehouse", query_settings, role="partner")
    async with create_connected_server_and_client_session(server._mcp_server) as client:
        rows = await client.call_tool(
            "run_sql",
            {
                "sql": "SELECT sold_at, concert_id, sum(amount) a, count(*) n FROM ticket_sales "
                "GROUP BY sold_at, concert_id"
            },
        )
        listed = await client.call_tool(
            "run_sql", {"sql": "SELECT list(unit_price) FROM ticket_sales"}
        )
        tiers = await client.call_tool(
            "semantic_query", {"measures": ["tickets_sold"], "dimensions": ["price_tier"]}
        )
    assert not rows.isError and rows.structuredContent is not None
    assert rows.structuredContent["rows"] == []
    assert "withheld for role partner" in rows.structuredContent["reason"]
    assert listed.isError and "grouped rows' own values" in listed.content[0].text  # type: ignore[union-attr]
    assert not tiers.isError and tiers.structuredContent is not None
    assert len(tiers.structuredContent["rows"]) >= 2
