"""The demo generator: deterministic, big enough, and with the structure the models need."""

from __future__ import annotations

from datetime import date

import duckdb
import pyarrow as pa
import pytest

from core.schemas import ENTITY_SCHEMAS, validate_record
from pipelines.generate import SCALES, generate
from tests.pipelines.conftest import AS_OF


def _query(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def test_same_seed_gives_identical_data(small_tables: dict[str, pa.Table]) -> None:
    again = dict(generate(SCALES["small"], 7, AS_OF))
    for name in ("artists", "venues", "fans", "concerts", "concert_results"):
        assert again[name].equals(small_tables[name]), name


def test_another_seed_gives_other_data(small_tables: dict[str, pa.Table]) -> None:
    other = dict(generate(SCALES["small"], 8, AS_OF))
    assert not other["artists"].equals(small_tables["artists"])


def test_small_scale_has_at_least_ten_thousand_records(small_tables: dict[str, pa.Table]) -> None:
    spec = SCALES["small"]
    assert small_tables["artists"].num_rows == spec.artists
    assert small_tables["venues"].num_rows == spec.venues
    assert small_tables["fans"].num_rows == spec.fans
    assert small_tables["concerts"].num_rows == spec.concerts
    assert small_tables["ticket_sales"].num_rows >= spec.ticket_sales
    assert sum(t.num_rows for t in small_tables.values()) >= 10_000


@pytest.mark.parametrize("table", ["artists", "venues", "fans", "concerts", "ticket_sales"])
def test_every_generated_record_passes_its_schema(
    small_tables: dict[str, pa.Table], table: str
) -> None:
    schema = ENTITY_SCHEMAS[table]
    rows = small_tables[table].slice(0, 2_000).to_pylist()
    for row in rows:
        validate_record(schema, row)


def test_names_and_ids_are_unique(small_db: duckdb.DuckDBPyConnection) -> None:
    assert _query(small_db, "SELECT count(DISTINCT lower(name)) = count(*) FROM artists") == [
        (True,)
    ]
    assert _query(small_db, "SELECT count(DISTINCT name) = count(*) FROM venues") == [(True,)]


def test_popularity_is_heavy_tailed_and_tied_to_followers(
    small_db: duckdb.DuckDBPyConnection,
) -> None:
    ((top_share, corr),) = _query(
        small_db,
        """SELECT sum(followers) FILTER (WHERE rk <= 0.05 * n) / sum(followers),
                  corr(popularity, ln(followers))
           FROM (SELECT followers, popularity, row_number() OVER (ORDER BY followers DESC) rk,
                        count(*) OVER () n FROM artists)""",
    )
    assert top_share > 0.5  # the top 5% of artists hold most followers
    assert corr > 0.9


def test_genre_shares_look_like_the_market(small_db: duckdb.DuckDBPyConnection) -> None:
    shares = dict(
        _query(small_db, "SELECT genre, count(*) / sum(count(*)) OVER () FROM artists GROUP BY 1")
    )
    assert shares["pop"] > shares["jazz"] * 3
    assert shares["rock"] > shares["classical"] * 3
    assert max(shares, key=shares.__getitem__) in {"pop", "rock", "hip-hop"}


def test_venues_are_in_real_places_with_capacities_by_type(
    small_db: duckdb.DuckDBPyConnection,
) -> None:
    medians = dict(_query(small_db, "SELECT venue_type, median(capacity) FROM venues GROUP BY 1"))
    assert medians["club"] < medians["theater"] < medians["arena"] < medians["stadium"]
    near = _query(
        small_db,
        "SELECT count(*) FROM venues WHERE city = 'New York' AND state = 'NY' AND country = 'US' "
        "AND abs(latitude - 40.71) > 0.5",
    )
    assert near == [(0,)]


def test_sell_through_rises_with_popularity(small_db: duckdb.DuckDBPyConnection) -> None:
    low, high = _query(
        small_db,
        """SELECT avg(p.sell_through) FROM concert_performance p JOIN artists a USING (artist_id)
           WHERE p.status = 'completed' GROUP BY a.popularity >= 45 ORDER BY a.popularity >= 45""",
    )
    assert high[0] > low[0] + 0.05


def test_weekends_sell_better_than_early_week(small_db: duckdb.DuckDBPyConnection) -> None:
    ((weekend, early),) = _query(
        small_db,
        """SELECT avg(sell_through) FILTER (WHERE dayofweek(event_date) IN (5, 6)),
                  avg(sell_through) FILTER (WHERE dayofweek(event_date) IN (1, 2))
           FROM concert_performance WHERE status = 'completed'""",
    )
    assert weekend > early


def test_some_concerts_sell_out_and_some_are_cancelled(small_db: duckdb.DuckDBPyConnection) -> None:
    ((sold_out, cancelled, completed),) = _query(
        small_db,
        """SELECT count(*) FILTER (WHERE p.tickets_sold = p.capacity AND p.status = 'completed'),
                  count(*) FILTER (WHERE p.status = 'cancelled'),
                  count(*) FILTER (WHERE p.status = 'completed')
           FROM concert_performance p""",
    )
    assert 0.03 * completed < sold_out < 0.5 * completed
    assert 0 < cancelled < 0.1 * completed


def test_dates_span_past_and_future_with_consistent_status(
    small_db: duckdb.DuckDBPyConnection,
) -> None:
    rows = dict(_query(small_db, "SELECT status, count(*) FROM concerts GROUP BY 1"))
    assert rows["completed"] > rows["scheduled"] > 0
    assert _query(
        small_db,
        "SELECT count(*) FROM concerts WHERE status <> 'cancelled' "
        f"AND (status = 'completed') <> (event_date < DATE '{AS_OF}')",
    ) == [(0,)]
    summer, winter = _query(
        small_db,
        "SELECT count(*) FROM concerts WHERE month(event_date) IN (6, 7, 8) UNION ALL "
        "SELECT count(*) FROM concerts WHERE month(event_date) IN (12, 1, 2)",
    )
    assert summer[0] > winter[0]


def test_sales_follow_the_sales_curve(small_db: duckdb.DuckDBPyConnection) -> None:
    ((outside, first_week, last_week, middle),) = _query(
        small_db,
        """WITH s AS (
             SELECT s.sold_at::DATE - c.on_sale_date AS since_open,
                    c.event_date - s.sold_at::DATE AS to_show,
                    c.event_date - c.on_sale_date AS window_days
             FROM ticket_sales s JOIN concerts c USING (concert_id) WHERE c.status = 'completed')
           SELECT count(*) FILTER (WHERE since_open < 0 OR to_show < 0),
                  count(*) FILTER (WHERE since_open < 7) / sum(7 / window_days),
                  count(*) FILTER (WHERE to_show < 7) / sum(7 / window_days),
                  count(*) FILTER (WHERE since_open >= 7 AND to_show >= 7)
                      / sum(greatest(window_days - 14, 0) / window_days)
           FROM s""",
    )
    assert outside == 0
    assert first_week > 3 * middle  # an on-sale rush
    assert last_week > 1.5 * middle  # a late spike


def test_amounts_are_exact_and_prices_rise_by_tier(small_db: duckdb.DuckDBPyConnection) -> None:
    assert _query(
        small_db, "SELECT count(*) FROM ticket_sales WHERE amount <> quantity * unit_price"
    ) == [(0,)]
    prices = dict(
        _query(small_db, "SELECT price_tier, avg(unit_price) FROM ticket_sales GROUP BY 1")
    )
    assert prices["general"] < prices["vip"]


def test_concert_prices_are_in_us_dollars(small_db: duckdb.DuckDBPyConnection) -> None:
    assert _query(small_db, "SELECT currency, count(*) > 0 FROM concerts GROUP BY 1") == [
        ("USD", True)
    ]


def test_fans_buy_mostly_their_favourite_genres(small_db: duckdb.DuckDBPyConnection) -> None:
    ((match_rate, local_rate),) = _query(
        small_db,
        """SELECT avg((a.genre = f.favorite_genre)::INT), avg((v.state = f.state)::INT)
           FROM ticket_sales s JOIN fans f USING (fan_id) JOIN concerts c USING (concert_id)
           JOIN artists a USING (artist_id) JOIN venues v USING (venue_id)""",
    )
    assert match_rate > 0.5
    assert local_rate > 0.8  # fans buy near home


def test_box_office_sales_have_no_fan(small_db: duckdb.DuckDBPyConnection) -> None:
    assert _query(
        small_db,
        "SELECT count(*) FROM ticket_sales WHERE channel = 'box_office' AND fan_id IS NOT NULL",
    ) == [(0,)]


def test_as_of_moves_the_split_between_past_and_future() -> None:
    earlier = dict(generate(SCALES["small"], 7, date(2024, 1, 1)))["concerts"]
    latest = max(earlier.column("event_date").to_pylist())
    assert date(2024, 6, 1) < latest <= date(2025, 1, 31)
