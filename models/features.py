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

import bisect
from datetime import date
from typing import Any, Final

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
# The averaged columns are exact types (integer, decimal) so their window sums are exact: a DOUBLE
# sum depends on the order rows are added, which DuckDB's threads and the rows' order on disk vary
# for concerts on the same day (a genre's, mostly), so features, and the model trained on them,
# would change in their last bits from one run to the next.
_HISTORY = """
    SELECT cp.artist_id, cp.venue_id, cp.event_date, cp.tickets_sold AS tickets,
           cp.sell_through::DECIMAL(38, 18) AS st, cp.avg_ticket_price AS price,
           v.state, a.genre
    FROM concert_performance cp
    JOIN venues v USING (venue_id)
    JOIN artists a USING (artist_id)
    WHERE cp.status = 'completed' AND cp.results_source <> 'none' AND cp.sell_through IS NOT NULL
"""


def _running(group: str, prefix: str, rows: str) -> str:
    """Running totals per `group` over the history `rows` (a FROM clause), one row per
    (group, event_date) as known at the end of it.

    `rows` may keep only the groups some target belongs to: a window partition sees its own
    rows alone, so the totals are the ones a run over every group gives, at the cost of the few
    groups a prediction asks about instead of the whole history.
    """
    return f"""
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
                     RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"""


def _asof(group: str, prefix: str) -> str:
    on = " AND ".join(f"t.{g} = {prefix}.{g}" for g in group.split(", "))
    return f"ASOF LEFT JOIN {prefix}_hist {prefix} ON {on} AND t.as_of > {prefix}.event_date"


def _hist(group: str, prefix: str, *, every_group: bool) -> str:
    """The CTE `<prefix>_hist`: running totals of every group, or of the targets' groups."""
    rows = (
        "history"
        if every_group
        else f"history SEMI JOIN (SELECT DISTINCT {group} FROM t) USING ({group})"
    )
    return f"{prefix}_hist AS ({_running(group, prefix, rows)})"


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
{_hist("artist_id", "a", every_group=every_group)},
{_hist("venue_id", "v", every_group=every_group)},
{_hist("artist_id, state", "am", every_group=every_group)},
{_hist("genre", "g", every_group=every_group)}
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
    Up to FEW_TARGETS targets (a prediction) take `_few_features`, which plans a far smaller
    query. `every_group` computes the running totals of every artist, venue and genre rather
    than only the targets' ones: the same features, slower (the benchmark's baseline).
    """
    frame = targets.copy()
    if "on_sale_date" not in frame:
        frame["on_sale_date"] = pd.NaT
    if "price" not in frame:
        frame["price"] = float("nan")
    frame = frame[[*TARGET_COLUMNS, "on_sale_date"]]
    if not every_group and 0 < len(frame) <= FEW_TARGETS and frame["key"].is_unique:
        return _few_features(con, frame)
    con.register("targets", frame)
    try:
        out = con.execute(_SQL_EVERY_GROUP if every_group else _SQL).df()
    finally:
        con.unregister("targets")
    out = out.set_index("key").reindex(frame["key"])
    for column in CATEGORICAL:
        out[column] = out[column].astype("category")
    return out[list(FEATURES)]


# ---- a few targets: the same running totals from a query planned in a fraction of the time --

FEW_TARGETS: Final = 32
"""Up to this many targets, `concert_features` takes `_few_features`: planning the full query
costs a prediction more than running it (the targets frame, four ASOF joins)."""


def _few_totals(group: str, prefix: str, among: str) -> str:
    """`_running` over the groups whose key is in the list parameter `among`, as uniform rows
    (grp, k1, k2, event_date, n, mean_st, mean_tickets, mean_price, recent_st)."""
    k1, _, k2 = group.partition(", ")
    key = f"[{k1}, {k2}]" if k2 else k1
    return f"""
    SELECT '{prefix}', {k1}, {k2 or "''"}, event_date, {prefix}_n, {prefix}_mean_st,
           {prefix}_mean_tickets, {prefix}_mean_price, {prefix}_recent_st
    FROM ({_running(group, prefix, f"history WHERE list_contains(${among}, {key})")})"""


_FEW_HISTORY: Final = f"""
WITH history AS ({_HISTORY})
{_few_totals("artist_id", "a", "artists")}
UNION ALL {_few_totals("venue_id", "v", "venues")}
UNION ALL {_few_totals("artist_id, state", "am", "artist_states")}
UNION ALL {_few_totals("genre", "g", "genres")}
ORDER BY 1, 2, 3, 4
"""
"""The running totals of the targets' artists, venues, artist-states and genres: the windows of
the full query over the same partitions, without the targets frame and the ASOF joins."""

_FEW_ARTISTS: Final = """
SELECT artist_id, genre, popularity::DOUBLE, ln(1 + followers), formed_year
FROM artists WHERE list_contains(?, artist_id)
"""
_FEW_VENUES: Final = """
SELECT venue_id, capacity::DOUBLE, venue_type, state FROM venues WHERE list_contains(?, venue_id)
"""

_Totals = tuple[date, int, float | None, float | None, float | None, float | None]
"""One running-totals row: (event_date, n, mean_st, mean_tickets, mean_price, recent_st)."""


class _History:
    """Running totals by (group kind, key, key2), each sorted by date, looked up as of a day."""

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self._totals: dict[tuple[str, str, str], list[_Totals]] = {}
        for grp, k1, k2, *totals in rows:
            self._totals.setdefault((grp, k1, k2), []).append(tuple(totals))
        self._dates = {key: [t[0] for t in totals] for key, totals in self._totals.items()}

    def before(self, grp: str, k1: object, k2: object, as_of: date) -> _Totals | None:
        """The latest totals dated strictly before `as_of` (the full query's ASOF join)."""
        if k1 is None or k2 is None:
            return None
        key = (grp, str(k1), str(k2))
        dates = self._dates.get(key)
        if not dates:
            return None
        i = bisect.bisect_left(dates, as_of)
        return self._totals[key][i - 1] if i else None


def _day(value: object) -> date | None:
    """A target's date as the full query casts it (::DATE), None when missing."""
    if value is None or pd.isna(value):  # type: ignore[call-overload]
        return None
    return pd.Timestamp(value).date()  # type: ignore[arg-type]


def _number(value: object) -> float:
    """A SQL value as a feature: NULL is NaN."""
    return float("nan") if value is None else float(value)  # type: ignore[arg-type]


def _few_features(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> pd.DataFrame:
    """`concert_features` for a few targets: static attributes by key, running totals from
    `_FEW_HISTORY`, the ASOF step and the last expressions of the full query in Python."""
    artist_ids = [str(a) for a in frame["artist_id"].dropna().unique()]
    venue_ids = [str(v) for v in frame["venue_id"].dropna().unique()]
    artists = {r[0]: r[1:] for r in con.execute(_FEW_ARTISTS, [artist_ids]).fetchall()}
    venues = {r[0]: r[1:] for r in con.execute(_FEW_VENUES, [venue_ids]).fetchall()}
    none_artist: tuple[Any, ...] = (None,) * 4
    none_venue: tuple[Any, ...] = (None,) * 3
    per_target = [
        (artists.get(a, none_artist), venues.get(v, none_venue))
        for a, v in zip(frame["artist_id"], frame["venue_id"], strict=True)
    ]
    states = sorted(
        {
            (str(a), s[2])
            for a, (_, s) in zip(frame["artist_id"], per_target, strict=True)
            if s[2] is not None
        }
    )
    genres = sorted({a[0] for a, _ in per_target if a[0] is not None})
    history = _History(
        con.execute(
            _FEW_HISTORY,
            {
                "artists": artist_ids,
                "venues": venue_ids,
                "artist_states": [list(pair) for pair in states],
                "genres": genres,
            },
        ).fetchall()
    )
    rows = []
    for (artist, venue), target in zip(per_target, frame.itertuples(index=False), strict=True):
        rows.append(_few_row(history, target, artist, venue))
    out = pd.DataFrame(rows, columns=list(FEATURES), index=pd.Index(frame["key"], name="key"))
    for column in CATEGORICAL:
        out[column] = out[column].astype("category")
    return out


def _few_row(
    history: _History, target: Any, artist: tuple[Any, ...], venue: tuple[Any, ...]
) -> list[object]:
    """One target's features, in FEATURES order, as the full query's SELECT computes them."""
    genre, popularity, log_followers, formed_year = artist
    capacity, venue_type, state = venue
    event_date, as_of, on_sale = (
        _day(target.event_date),
        _day(target.as_of),
        _day(target.on_sale_date),
    )
    assert event_date is not None and as_of is not None
    a = history.before("a", target.artist_id, "", as_of)
    v = history.before("v", target.venue_id, "", as_of)
    am = history.before("am", target.artist_id, state, as_of)
    g = history.before("g", genre, "", as_of)
    price = None if pd.isna(target.price) else float(target.price)
    for fallback in (a and a[4], g and g[4]):
        if price is None:
            price = fallback
    values: dict[str, object] = {
        "genre": genre,
        "venue_type": venue_type,
        "capacity": _number(capacity),
        "popularity": _number(popularity),
        "log_followers": _number(log_followers),
        "artist_age": _number(None if formed_year is None else event_date.year - formed_year),
        "price": _number(price),
        "days_on_sale": _number(None if on_sale is None else (event_date - on_sale).days),
        "dow": float(event_date.isoweekday()),
        "month": float(event_date.month),
        "a_n": float(a[1]) if a else 0.0,
        "a_mean_st": _number(a and a[2]),
        "a_mean_tickets": _number(a and a[3]),
        "a_mean_price": _number(a and a[4]),
        "a_recent_st": _number(a and a[5]),
        "a_days_since": _number(a and (event_date - a[0]).days),
        "v_n": float(v[1]) if v else 0.0,
        "v_mean_st": _number(v and v[2]),
        "v_mean_tickets": _number(v and v[3]),
        "am_n": float(am[1]) if am else 0.0,
        "am_mean_st": _number(am and am[2]),
        "g_mean_st": _number(g and g[2]),
        "g_mean_price": _number(g and g[4]),
    }
    return [values[name] for name in FEATURES]


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
