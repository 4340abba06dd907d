"""The guard: DuckDB attacks refused with reasons, legitimate queries pass, roles, timeout,
audit."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from core.errors import EncoreError, QueryRefusedError
from core.settings import Settings
from core.warehouse import reading
from tools.context import ToolContext
from tools.query.audit import audit_log
from tools.query.guard import Schema, check
from tools.query.policy import Policy
from tools.query.runner import QueryTimeoutError, execute_with_timeout, run_sql

LEGIT = [
    q.strip()
    for q in (Path(__file__).parent / "legit_queries.sql").read_text().split("\n;\n")
    if q.strip() and not q.strip().startswith("-- Legitimate")
] + [
    block.split("\n", 2)[2].strip()
    for block in [(Path(__file__).parent / "legit_queries.sql").read_text().split("\n;\n")[0]]
]

# DESIGN §7: what a locked-down DuckDB connection still allows, and other DuckDB-specific attacks
DUCKDB_ATTACKS = {
    "CREATE TEMP TABLE t AS SELECT * FROM fans": "only SELECT is allowed",
    "CREATE TEMP VIEW v AS SELECT 1": "only SELECT is allowed",
    "CREATE OR REPLACE TEMPORARY MACRO m(x) AS x": "only SELECT",
    "PRAGMA database_list": "only SELECT is allowed; got PRAGMA",
    "PRAGMA enable_profiling": "only SELECT is allowed; got PRAGMA",
    "CHECKPOINT": "only SELECT is allowed; got CHECKPOINT",
    "FORCE CHECKPOINT": "only SELECT",
    "SELECT * FROM query('SELECT * FROM fans')": "table functions",
    "SELECT * FROM query_table('fans')": "table functions",
    "SELECT current_setting('memory_limit')": "current_setting() is not allowed",
    "SELECT * FROM duckdb_settings()": "table functions",
    "SELECT * FROM duckdb_tables()": "table functions",
    "SELECT * FROM duckdb_tables": "not available",
    "SELECT * FROM read_csv('/etc/passwd')": "table functions",
    "SELECT * FROM read_csv_auto('/etc/passwd')": "table functions",
    "SELECT * FROM read_parquet('s3://bucket/x.parquet')": "table functions",
    "SELECT * FROM read_json('x.json')": "table functions",
    "SELECT * FROM read_text('/etc/hostname')": "table functions",
    "SELECT * FROM glob('/*')": "table functions",
    "SELECT * FROM '/etc/passwd'": "not available",
    "SELECT * FROM 'data.parquet'": "not available",
    "SELECT * FROM sqlite_scan('x.db', 't')": "table functions",
    "SELECT * FROM pragma_version()": "table functions",
    "ATTACH 'other.duckdb' AS o": "only SELECT is allowed; got ATTACH",
    "ATTACH ':memory:' AS m": "only SELECT is allowed; got ATTACH",
    "DETACH o": "only SELECT",
    "COPY fans TO '/tmp/fans.csv'": "only SELECT is allowed; got COPY",
    "COPY (SELECT * FROM fans) TO '/tmp/fans.csv'": "only SELECT is allowed; got COPY",
    "INSTALL httpfs": "only SELECT is allowed; got INSTALL",
    "LOAD httpfs": "only SELECT is allowed; got LOAD",
    "SET memory_limit = '100GB'": "only SELECT is allowed; got SET",
    "SET lock_configuration = false": "only SELECT is allowed; got SET",
    "RESET threads": "only SELECT",
    "EXPORT DATABASE '/tmp/dump'": "could not parse",
    "IMPORT DATABASE '/tmp/dump'": "",
    "CALL pragma_version()": "only SELECT is allowed; got CALL",
    "USE memory": "only SELECT",
    "DESCRIBE fans": "only SELECT",
    "SHOW TABLES": "only SELECT",
    "SUMMARIZE fans": "only SELECT",
    "SELECT * FROM information_schema.tables": "not available",
    "SELECT * FROM pg_catalog.pg_tables": "not available",
    "SELECT * FROM system.main.duckdb_settings": "not available",
    "SELECT * INTO copy_of_fans FROM fans": "SELECT ... INTO",
    "SELECT getenv('HOME')": "getenv() is not allowed",
    "SELECT sleep_ms(10000)": "not allowed",
    "SELECT * FROM artists; DROP TABLE artists": "exactly one statement",
    "WITH x AS (DELETE FROM fans RETURNING *) SELECT * FROM x": "",
    "DELETE FROM fans": "only SELECT is allowed; got DELETE",
    "UPDATE artists SET name = 'x'": "only SELECT is allowed; got UPDATE",
    "INSERT INTO artists VALUES ('x')": "only SELECT is allowed; got INSERT",
    "DROP TABLE fans": "only SELECT is allowed; got DROP",
    "ALTER TABLE fans ADD COLUMN x INT": "only SELECT is allowed; got ALTER",
    "BEGIN TRANSACTION": "only SELECT",
    "VACUUM": "only SELECT",
    "SELECT f FROM fans f": "names a table",
    "SELECT COLUMNS('.*') FROM fans": "columns() is not allowed",
}

UNPARSEABLE = ["SELEC 1", "SELECT FROM WHERE", "", "   ", ";", "SELECT (1", "'; --", "\x00\x01"]


def test_legit_list_is_long_enough() -> None:
    assert len(set(LEGIT)) >= 40


@pytest.mark.parametrize("sql", sorted(set(LEGIT)))
def test_legitimate_analyst_queries_pass(query_settings: Settings, sql: str) -> None:
    result = run_sql(ToolContext(query_settings, role="analyst"), sql)
    assert result.sql
    assert result.row_count == len(result.rows)


@pytest.mark.parametrize("sql", sorted(DUCKDB_ATTACKS))
def test_duckdb_attacks_are_refused_with_a_reason(sql: str, policy: Policy, schema: Schema) -> None:
    for role in ("analyst", "partner"):
        with pytest.raises(QueryRefusedError) as info:
            check(sql, policy.role(role), policy, schema)
        assert DUCKDB_ATTACKS[sql] in info.value.message
        assert len(info.value.message) > 15


@pytest.mark.parametrize("sql", UNPARSEABLE)
def test_unparseable_input_is_refused(sql: str, policy: Policy, schema: Schema) -> None:
    with pytest.raises(QueryRefusedError):
        check(sql, policy.role("admin"), policy, schema)


def test_admin_may_read_information_schema(query_settings: Settings) -> None:
    result = run_sql(
        ToolContext(query_settings, role="admin"),
        "SELECT table_name FROM information_schema.tables ORDER BY 1",
    )
    assert ["artists"] in result.rows


def test_analyst_cannot_read_fans_personal_columns(query_settings: Settings) -> None:
    ctx = ToolContext(query_settings, role="analyst")
    for sql in (
        "SELECT city FROM fans",
        "SELECT f.state, COUNT(*) FROM fans f GROUP BY 1",
        "SELECT fan_id FROM fans WHERE signup_date > DATE '2020-01-01'",
        "SELECT x.c FROM (SELECT city AS c FROM fans) x",
        "WITH p AS (SELECT * FROM fans) SELECT p.city FROM p",
        "SELECT (SELECT city FROM fans LIMIT 1)",
        "FROM fans SELECT city",
        'SELECT "city" FROM main."fans"',
        "SELECT COUNT(*) FROM fans WHERE city = 'Montreal'",
        "SELECT 1 FROM fans ORDER BY city LIMIT 1",
    ):
        with pytest.raises(QueryRefusedError, match="not available to role analyst"):
            run_sql(ctx, sql)


def test_personal_columns_never_leave_even_when_the_guard_lets_a_query_through(
    query_settings: Settings,
) -> None:
    # sqlglot resolves this `city` to the lateral's own alias; the fans view has no city, so
    # DuckDB fails the query: reads of restricted tables always go through the role's view
    ctx = ToolContext(query_settings, role="analyst")
    with pytest.raises(EncoreError):
        run_sql(ctx, "SELECT a.name FROM artists a, LATERAL (SELECT city FROM fans) x")


def test_analyst_may_select_around_personal_columns(query_settings: Settings) -> None:
    ctx = ToolContext(query_settings, role="analyst")
    result = run_sql(ctx, "SELECT * EXCLUDE (city, state, signup_date) FROM fans LIMIT 2")
    assert result.columns == ["fan_id", "country", "age_band", "favorite_genre"]
    # a star means "what I may read": no false refusal, no personal column
    for sql in (
        "SELECT * FROM fans LIMIT 2",
        "SELECT f.* FROM fans f JOIN ticket_sales t ON t.fan_id = f.fan_id LIMIT 2",
        "SELECT x.* FROM (SELECT * FROM fans) x LIMIT 2",
    ):
        result = run_sql(ctx, sql)
        assert result.columns == ["fan_id", "country", "age_band", "favorite_genre"], sql


def test_analyst_sees_fan_ids_pseudonymised(query_settings: Settings) -> None:
    ctx = ToolContext(query_settings, role="analyst")
    fans = run_sql(ctx, "SELECT fan_id FROM fans ORDER BY fan_id LIMIT 3").rows
    admin = run_sql(ToolContext(query_settings, role="admin"), "SELECT fan_id FROM fans LIMIT 3")
    assert all(len(row[0]) == 32 for row in fans)  # md5 hex
    assert {row[0] for row in fans}.isdisjoint({row[0] for row in admin.rows})
    # the pseudonym is stable, so joins between sales and fans still match
    joined = run_sql(
        ctx, "SELECT COUNT(*) FROM ticket_sales t JOIN fans f ON f.fan_id = t.fan_id"
    ).rows[0][0]
    direct = run_sql(ctx, "SELECT COUNT(*) FROM ticket_sales WHERE fan_id IS NOT NULL").rows[0][0]
    assert joined == direct > 0


def test_partner_is_refused_row_level_queries(query_settings: Settings) -> None:
    ctx = ToolContext(query_settings, role="partner")
    for sql in (
        "SELECT * FROM ticket_sales",
        "SELECT amount FROM ticket_sales ORDER BY amount DESC",
        "SELECT name, genre FROM artists",
        "SELECT concert_id, SUM(amount) OVER () FROM ticket_sales",
        "SELECT channel, amount FROM ticket_sales GROUP BY channel",
        "SELECT COUNT(*) FROM fans WHERE fan_id = 'F000001'",
        "SELECT COUNT(*) FROM fans GROUP BY city",
    ):
        with pytest.raises(QueryRefusedError, match=r"aggregates only|not available to role"):
            run_sql(ctx, sql)


def test_partner_aggregates_pass_and_see_partner_sales_only(query_settings: Settings) -> None:
    ctx = ToolContext(query_settings, role="partner")
    rows = run_sql(ctx, "SELECT channel, COUNT(*) FROM ticket_sales GROUP BY channel").rows
    assert [row[0] for row in rows] == ["partner"]
    genres = run_sql(ctx, "SELECT a.genre, SUM(cp.tickets_sold) FROM concert_performance cp "
                          "JOIN artists a USING (artist_id) GROUP BY a.genre")  # fmt: skip
    assert genres.row_count > 3


def test_limit_is_capped_and_truncation_reported(query_settings: Settings) -> None:
    ctx = ToolContext(query_settings, role="analyst")
    result = run_sql(ctx, "SELECT sale_id FROM ticket_sales", max_rows=100)
    assert result.row_count == 100 and result.truncated
    assert "LIMIT 101" in result.sql
    small = run_sql(ctx, "SELECT sale_id FROM ticket_sales LIMIT 7")
    assert small.row_count == 7 and not small.truncated
    capped = run_sql(ctx, "SELECT sale_id FROM ticket_sales LIMIT 999999")
    assert capped.row_count == 5000 and capped.truncated


def test_runaway_query_is_stopped_and_connection_stays_usable(query_settings: Settings) -> None:
    runaway = (
        "SELECT COUNT(*) FROM ticket_sales a CROSS JOIN ticket_sales b CROSS JOIN ticket_sales c"
    )

    def timers() -> int:  # the shared reader's idle closer is not a timer
        return sum(t.name != "encore-idle-readers" for t in threading.enumerate())

    threads_before = timers()
    with reading(query_settings) as con:
        with pytest.raises(QueryTimeoutError, match="ran longer than"):
            execute_with_timeout(con, runaway, timeout_s=0.5, fetch=10)
        assert con.execute("SELECT COUNT(*) FROM artists").fetchone() == (250,)
        execute_with_timeout(con, "SELECT 1", timeout_s=30, fetch=1)
    # Timers are cancelled once a query ends, so none outlives it (other tests' threads aside).
    assert timers() <= threads_before


def test_run_sql_times_out_and_audits(query_settings: Settings, tmp_path: Path) -> None:
    settings = query_settings.model_copy(
        update={"query_timeout_s": 0.5, "data_dir": tmp_path / "encore"}
    )
    settings = settings.model_copy(update={"warehouse_path": query_settings.warehouse_file})
    ctx = ToolContext(settings, user="runaway", role="analyst")
    with pytest.raises(QueryTimeoutError):
        run_sql(ctx, "SELECT COUNT(*) FROM ticket_sales a, ticket_sales b, ticket_sales c")
    assert run_sql(ctx, "SELECT COUNT(*) FROM venues").rows == [[120]]
    decisions = [e.decision for e in audit_log(ctx).entries]
    assert decisions == ["allowed", "timeout"]


def test_every_query_is_audited(query_settings: Settings, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "encore", warehouse_path=query_settings.warehouse_file)
    alice = ToolContext(settings, user="alice", role="analyst")
    run_sql(alice, "SELECT genre, COUNT(*) FROM artists GROUP BY genre")
    with pytest.raises(QueryRefusedError):
        run_sql(alice, "DELETE FROM artists")
    run_sql(ToolContext(settings, user="bob", role="partner"), "SELECT COUNT(*) FROM venues")

    own = audit_log(alice).entries
    assert [(e.user, e.decision) for e in own] == [("alice", "refused"), ("alice", "allowed")]
    refused, allowed = own
    assert refused.reason == "only SELECT is allowed; got DELETE"
    assert refused.sql == "DELETE FROM artists"
    assert allowed.tables == ["artists"] and allowed.rows and allowed.rows > 3
    assert allowed.role == "analyst" and allowed.at.startswith("20")
    everyone = audit_log(ToolContext(settings, user="root", role="admin")).entries
    assert {e.user for e in everyone} == {"alice", "bob"}
