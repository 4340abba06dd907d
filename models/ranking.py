"""Venue popularity ranking (requirement 3.1): a score from four factors, each one explained.

Factors, each turned into a percentile among venues (0..1) and weighted (`WEIGHTS`):

- attendance: mean sell-through, shrunk toward the overall mean for venues with few concerts
  (`_PRIOR_EVENTS` pseudo-concerts) so one sold-out night does not top the list;
- revenue: mean gross per concert;
- frequency: concerts per year over the last year before the reference date;
- trend: mean tickets per concert in the last year over the year before it (>1: growing).

score = 100 × Σ weight × percentile, so the factor contributions add up to the score.

Storage: scores are computed on demand from `concert_performance` (one SQL pass, milliseconds at
default scale) and kept in the model registry as `venue_ranking` with their `computed_at` and the
warehouse snapshot they came from. A `venue_rankings` warehouse table would need a writer
connection, which locks out pipeline loads, for data that is cheaper to recompute than to store;
the registry keeps the history of computed rankings without touching the warehouse.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final, Literal

import duckdb
import pandas as pd

from core.errors import ValidationError
from core.settings import Settings
from core.warehouse import reading
from models.registry import ModelNotTrainedError, ModelRegistry, ModelVersion, warehouse_snapshot

CapacityBand = Literal["small", "mid", "large", "xl"]
CAPACITY_BANDS: Final[dict[str, tuple[int, int]]] = {
    "small": (0, 2_000),  # clubs and theatres: < 2,000
    "mid": (2_000, 8_000),  # 2,000–7,999
    "large": (8_000, 20_000),  # arenas: 8,000–19,999
    "xl": (20_000, 10_000_000),  # stadiums and big outdoor sites: ≥ 20,000
}
WEIGHTS: Final = {"attendance": 0.35, "revenue": 0.30, "frequency": 0.20, "trend": 0.15}
MODEL_NAME: Final = "venue_ranking"
_PRIOR_EVENTS: Final = 5
_MIN_EVENTS: Final = 3

_SQL: Final = f"""
WITH ref AS (
    SELECT max(event_date) + INTERVAL 1 DAY AS today
    FROM concert_performance WHERE status = 'completed'
),
done AS (
    SELECT cp.*, a.genre FROM concert_performance cp JOIN artists a USING (artist_id)
    WHERE cp.status = 'completed' AND cp.results_source <> 'none'
),
overall AS (SELECT avg(sell_through) AS mean_st FROM done),
per_venue AS (
    SELECT d.venue_id, count(*) AS events,
        (sum(d.sell_through) + {_PRIOR_EVENTS} * any_value(o.mean_st))
            / (count(d.sell_through) + {_PRIOR_EVENTS}) AS attendance,
        avg(d.sell_through) AS raw_sell_through,
        avg(d.gross_revenue)::DOUBLE AS revenue_per_event,
        count(*) FILTER (d.event_date >= r.today - INTERVAL 365 DAY) AS last_year_events,
        avg(d.tickets_sold) FILTER (d.event_date >= r.today - INTERVAL 365 DAY) AS recent,
        avg(d.tickets_sold) FILTER (d.event_date < r.today - INTERVAL 365 DAY
                                    AND d.event_date >= r.today - INTERVAL 730 DAY)
            AS earlier,
        list(DISTINCT d.genre ORDER BY d.genre) AS genres,
        min(d.event_date) AS first_event, max(d.event_date) AS last_event
    FROM done d, overall o, ref r
    GROUP BY d.venue_id, r.today
    HAVING count(*) >= {_MIN_EVENTS}
),
factors AS (
    SELECT *, coalesce(recent / nullif(earlier, 0), 1.0) AS trend_ratio FROM per_venue
)
SELECT f.venue_id, v.name AS venue, v.city, v.state, v.capacity, v.venue_type, f.genres,
    f.events, f.attendance, f.raw_sell_through, f.revenue_per_event, f.last_year_events,
    f.trend_ratio, f.first_event, f.last_event,
    percent_rank() OVER (ORDER BY f.attendance) AS p_attendance,
    percent_rank() OVER (ORDER BY f.revenue_per_event) AS p_revenue,
    percent_rank() OVER (ORDER BY f.last_year_events) AS p_frequency,
    percent_rank() OVER (ORDER BY f.trend_ratio) AS p_trend
FROM factors f JOIN venues v USING (venue_id)
"""


def compute_scores(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every venue with at least three completed concerts: factors, contributions and score."""
    frame = con.execute(_SQL).df()
    score = pd.Series(0.0, index=frame.index)
    for factor, weight in WEIGHTS.items():
        contribution = 100 * weight * frame[f"p_{factor}"].astype(float)
        frame[f"c_{factor}"] = contribution
        score += contribution
    frame["score"] = score
    frame["capacity_band"] = [capacity_band(c) for c in frame["capacity"]]
    frame["computed_at"] = datetime.now(UTC)
    return frame.sort_values(["score", "venue_id"], ascending=[False, True]).reset_index(drop=True)


def capacity_band(capacity: float | None) -> str | None:
    """small < 2k, mid 2k–8k, large 8k–20k, xl ≥ 20k (None when capacity is unknown)."""
    if capacity is None or pd.isna(capacity):
        return None
    for band, (low, high) in CAPACITY_BANDS.items():
        if low <= capacity < high:
            return band
    return "xl"


def filter_scores(
    scores: pd.DataFrame,
    *,
    city: str | None = None,
    state: str | None = None,
    genre: str | None = None,
    capacity_band: str | None = None,
    venue_type: str | None = None,
) -> pd.DataFrame:
    """The rows matching every given filter (case-insensitive), best first, ranks renumbered."""
    mask = pd.Series(True, index=scores.index)
    if city:
        mask &= scores["city"].str.lower() == city.strip().lower()
    if state:
        mask &= scores["state"].fillna("").str.lower() == state.strip().lower()
    if genre:
        wanted = genre.strip().lower()
        mask &= scores["genres"].map(lambda gs: wanted in [str(g) for g in gs])
    if capacity_band:
        band = capacity_band.strip().lower()
        if band not in CAPACITY_BANDS:
            raise ValidationError(
                f"capacity_band must be one of {', '.join(CAPACITY_BANDS)}; got {capacity_band!r}",
                field="capacity_band",
            )
        mask &= scores["capacity_band"] == band
    if venue_type:
        mask &= scores["venue_type"].fillna("").str.lower() == venue_type.strip().lower()
    out = scores[mask].reset_index(drop=True)
    out.insert(0, "rank", range(1, len(out) + 1))
    return out


def factor_breakdown(row: pd.Series) -> dict[str, dict[str, float]]:
    """Each factor's raw value, percentile and contribution to the score for one venue."""
    raw = {
        "attendance": float(row["attendance"]),
        "revenue": float(row["revenue_per_event"]),
        "frequency": float(row["last_year_events"]),
        "trend": float(row["trend_ratio"]),
    }
    return {
        factor: {
            "value": raw[factor],
            "percentile": float(row[f"p_{factor}"]),
            "weight": weight,
            "contribution": float(row[f"c_{factor}"]),
        }
        for factor, weight in WEIGHTS.items()
    }


def train_ranking(settings: Settings) -> tuple[pd.DataFrame, ModelVersion]:
    """Compute every venue's score now and register it as the new `venue_ranking` version.

    Promotion compares the last event date the ranking saw: a ranking of newer data is never
    worse, so a refresh on the same or newer data always becomes the champion.
    """
    with reading(settings) as con:
        scores = compute_scores(con)
        snapshot = warehouse_snapshot(con)
    last = snapshot.get("max_completed_event_date")
    freshness = float(pd.Timestamp(last).toordinal()) if last else 0.0
    registry = ModelRegistry(settings)
    version = registry.register(
        MODEL_NAME,
        scores,
        metrics={"venues": float(len(scores)), "data_day": freshness},
        params={"weights": WEIGHTS, "prior_events": _PRIOR_EVENTS, "min_events": _MIN_EVENTS},
        data_snapshot=snapshot,
    )
    registry.promote(MODEL_NAME, version.version, primary_metric="data_day", higher_is_better=True)
    return scores, registry.versions(MODEL_NAME)[-1]


def load_ranking(settings: Settings) -> tuple[pd.DataFrame, ModelVersion]:
    """The stored ranking when it matches the warehouse as it is now; otherwise a fresh one."""
    registry = ModelRegistry(settings)
    try:
        artifact, meta = registry.load(MODEL_NAME)
    except ModelNotTrainedError:
        return train_ranking(settings)
    with reading(settings) as con:
        current = warehouse_snapshot(con)
    if meta.data_snapshot != current or not isinstance(artifact, pd.DataFrame):
        return train_ranking(settings)
    return artifact, meta
