"""Point-in-time features for a concert (or an artist–venue–date pair) from the warehouse.

A feature for a target with prediction date `as_of` uses only concerts *completed strictly before*
`as_of`: history rows carry running totals (window functions, `RANGE` frames so concerts on the
same day share one total) and each target takes the latest total dated before `as_of` with an
ASOF join. Nothing later — no later sales, no later concerts — can reach a feature
(tests/models/test_features.py changes the future and checks the features do not move).

Static attributes (genre, popularity, followers, capacity, venue type) are the warehouse's current
values: the warehouse keeps no history of them, so they are taken as slowly changing.
"""

from __future__ import annotations

from typing import Final

import duckdb
import pandas as pd

TARGET_COLUMNS: Final = ("key", "artist_id", "venue_id", "event_date", "as_of", "price")
"""What `concert_features` needs per target: an id, who, where, when, the prediction date, price."""

CATEGORICAL: Final = ("genre", "venue_type")
NUMERIC: Final = (
    "capacity",
    "popularity",
    "log_followers",
    "artist_age",
    "price",
    "days_on_sale",
    "dow",
    "month",
    "a_n",
    "a_mean_st",
    "a_mean_tickets",
    "a_mean_price",
    "a_recent_st",
    "a_days_since",
    "v_n",
    "v_mean_st",
    "v_mean_tickets",
    "am_n",
    "am_mean_st",
    "g_mean_st",
    "g_mean_price",
)
FEATURES: Final = CATEGORICAL + NUMERIC

# Concerts whose outcome is known: completed, with tickets from transactions or a box score.
_HISTORY = """
    SELECT cp.artist_id, cp.venue_id, cp.event_date, cp.tickets_sold::DOUBLE AS tickets,
           cp.sell_through AS st, cp.avg_ticket_price::DOUBLE AS price,
           v.state, a.genre
    FROM concert_performance cp
    JOIN venues v USING (venue_id)
    JOIN artists a USING (artist_id)
    WHERE cp.status = 'completed' AND cp.results_source <> 'none' AND cp.sell_through IS NOT NULL
"""


def _running(group: str, prefix: str, *, every_group: bool) -> str:
    """Running totals per `group`, one row per (group, event_date) as known at the end of it.

    Unless `every_group`, only the groups some target belongs to are computed: a window
    partition sees its own rows alone, so the totals are the ones a run over every group gives,
    at the cost of the few groups a prediction asks about instead of the whole history.
    """
    rows = (
        "history"
        if every_group
        else f"history SEMI JOIN (SELECT DISTINCT {group} FROM t) USING ({group})"
    )
    return f"""
    {prefix}_hist AS (
        SELECT DISTINCT {group}, event_date,
            count(*) OVER w AS {prefix}_n,
            avg(st) OVER w AS {prefix}_mean_st,
            avg(tickets) OVER w AS {prefix}_mean_tickets,
            avg(price) OVER w AS {prefix}_mean_price,
            avg(st) OVER (PARTITION BY {group} ORDER BY event_date
                          RANGE BETWEEN INTERVAL 365 DAY PRECEDING AND CURRENT ROW)
                AS {prefix}_recent_st
        FROM {rows}
        WINDOW w AS (PARTITION BY {group} ORDER BY event_date
                     RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
    )"""


def _asof(group: str, prefix: str) -> str:
    on = " AND ".join(f"t.{g} = {prefix}.{g}" for g in group.split(", "))
    return f"ASOF LEFT JOIN {prefix}_hist {prefix} ON {on} AND t.as_of > {prefix}.event_date"


def _sql(*, every_group: bool) -> str:
    """The features query over a registered `targets` frame (`every_group`: see `_running`)."""
    return f"""
WITH t AS (
    SELECT tg.key, tg.artist_id, tg.venue_id, tg.event_date::DATE AS event_date,
           tg.as_of::DATE AS as_of, tg.price::DOUBLE AS price,
           tg.on_sale_date::DATE AS on_sale_date,
           a.genre, a.popularity::DOUBLE AS popularity, ln(1 + a.followers) AS log_followers,
           year(tg.event_date::DATE) - a.formed_year AS artist_age,
           v.capacity::DOUBLE AS capacity, v.venue_type, v.state
    FROM targets tg
    LEFT JOIN artists a ON a.artist_id = tg.artist_id
    LEFT JOIN venues v ON v.venue_id = tg.venue_id
),
history AS ({_HISTORY}),
{_running("artist_id", "a", every_group=every_group)},
{_running("venue_id", "v", every_group=every_group)},
{_running("artist_id, state", "am", every_group=every_group)},
{_running("genre", "g", every_group=every_group)}
SELECT t.key, t.genre, t.venue_type, t.capacity, t.popularity, t.log_followers,
       t.artist_age::DOUBLE AS artist_age,
       coalesce(t.price, a.a_mean_price, g.g_mean_price) AS price,
       date_diff('day', t.on_sale_date, t.event_date)::DOUBLE AS days_on_sale,
       isodow(t.event_date)::DOUBLE AS dow, month(t.event_date)::DOUBLE AS month,
       coalesce(a.a_n, 0)::DOUBLE AS a_n, a.a_mean_st, a.a_mean_tickets, a.a_mean_price,
       a.a_recent_st, date_diff('day', a.event_date, t.event_date)::DOUBLE AS a_days_since,
       coalesce(v.v_n, 0)::DOUBLE AS v_n, v.v_mean_st, v.v_mean_tickets,
       coalesce(am.am_n, 0)::DOUBLE AS am_n, am.am_mean_st,
       g.g_mean_st, g.g_mean_price
FROM t
{_asof("artist_id", "a")}
{_asof("venue_id", "v")}
{_asof("artist_id, state", "am")}
{_asof("genre", "g")}
"""


_SQL: Final = _sql(every_group=False)
_SQL_EVERY_GROUP: Final = _sql(every_group=True)


def concert_features(
    con: duckdb.DuckDBPyConnection, targets: pd.DataFrame, *, every_group: bool = False
) -> pd.DataFrame:
    """Feature rows for `targets` (columns TARGET_COLUMNS, optional on_sale_date), keyed by `key`.

    Categorical columns come back as pandas `category` (for HistGradientBoosting's native
    categorical support); missing history stays NaN, which the model treats as "unknown".
    `every_group` computes the running totals of every artist, venue and genre rather than
    only the targets' ones: the same features, slower (the benchmark's baseline).
    """
    frame = targets.copy()
    if "on_sale_date" not in frame:
        frame["on_sale_date"] = pd.NaT
    if "price" not in frame:
        frame["price"] = float("nan")
    frame = frame[[*TARGET_COLUMNS, "on_sale_date"]]
    con.register("targets", frame)
    try:
        out = con.execute(_SQL_EVERY_GROUP if every_group else _SQL).df()
    finally:
        con.unregister("targets")
    out = out.set_index("key").reindex(frame["key"])
    for column in CATEGORICAL:
        out[column] = out[column].astype("category")
    return out[list(FEATURES)]


def training_targets(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Completed concerts with a known outcome, as targets predicted when tickets went on sale.

    The prediction date is the on-sale date (the event date when unknown): that is when a
    promoter asks for a forecast, so training and evaluation see as much history as a forecast
    for an upcoming concert does, not the extra months up to the show itself.

    Carries the labels `tickets_sold`, `sell_through`, `avg_ticket_price`, `gross` beside the
    target columns, sorted by event date (the order time-based splits rely on).
    """
    return con.execute(
        """
        SELECT cp.concert_id AS key, cp.artist_id, cp.venue_id, cp.event_date,
               coalesce(c.on_sale_date, cp.event_date) AS as_of,
               ((c.price_min + c.price_max) / 2)::DOUBLE AS price,
               c.on_sale_date, cp.tickets_sold::DOUBLE AS tickets_sold, cp.sell_through,
               cp.avg_ticket_price::DOUBLE AS avg_ticket_price,
               cp.gross_revenue::DOUBLE AS gross, cp.capacity::DOUBLE AS capacity
        FROM concert_performance cp JOIN concerts c USING (concert_id)
        WHERE cp.status = 'completed' AND cp.results_source <> 'none'
          AND cp.sell_through IS NOT NULL AND cp.capacity IS NOT NULL
        ORDER BY cp.event_date, cp.concert_id
        """
    ).df()


def concert_targets(
    con: duckdb.DuckDBPyConnection, concert_ids: list[str], as_of: object
) -> pd.DataFrame:
    """Targets for existing concerts (e.g. scheduled ones), predicted as of `as_of`."""
    return con.execute(
        """
        SELECT c.concert_id AS key, c.artist_id, c.venue_id, c.event_date,
               least(c.event_date, ?::DATE) AS as_of,
               ((c.price_min + c.price_max) / 2)::DOUBLE AS price, c.on_sale_date, c.status
        FROM concerts c WHERE list_contains(?, c.concert_id)
        ORDER BY c.event_date, c.concert_id
        """,
        [as_of, concert_ids],
    ).df()
