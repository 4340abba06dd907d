"""Ticket-sales forecasts (3.2, 3.5) for artist–venue–date pairs and for scheduled concerts."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from core.errors import ValidationError
from core.warehouse import reading
from models.forecast import LOW_CONFIDENCE, SELL_OUT_AT, TOLERANCE
from tools.context import ToolContext
from tools.entities import resolve
from tools.query.audit import audited
from tools.results import Table

if TYPE_CHECKING:  # pandas loads with the model, when a forecast is asked for (not at server start)
    import pandas as pd

_MAX_BATCH = 500


class SalesPrediction(BaseModel):
    """Predicted tickets and gross with an interval and a calibrated confidence.

    confidence: the calibrated probability that actual tickets land within ±20% of tickets_sold;
    low_confidence is confidence < 0.70. The interval is an 80% conformal prediction interval.
    """

    artist: str
    venue: str
    date: str
    concert_id: str | None = None
    tickets_sold: int
    tickets_low: int
    tickets_high: int
    capacity: int | None
    gross: float
    gross_low: float
    gross_high: float
    sell_through: float
    confidence: float = Field(ge=0, le=1)
    low_confidence: bool
    likely_sell_out: bool = Field(description=f"predicted sell-through >= {SELL_OUT_AT}")
    cold_start: bool = Field(description="no completed concert yet for the artist or the venue")
    explanation: list[str]
    model_version: str


class SalesPredictions(BaseModel):
    """Several predictions, with a table of the main figures."""

    predictions: list[SalesPrediction]
    table: Table


class PredictionRequest(BaseModel):
    """One artist–venue–date pair to forecast (price optional)."""

    artist: str
    venue: str
    date: str
    price: float | None = None


def _iso(text: str) -> str:
    try:
        return date.fromisoformat(text.strip()).isoformat()
    except ValueError as exc:
        raise ValidationError(f"dates are ISO (YYYY-MM-DD); got {text!r}", field="date") from exc


def _explain(row: pd.Series, capacity: float | None) -> list[str]:
    lines = [
        f"{row['tickets_sold']:.0f} tickets of {capacity:.0f} seats "
        f"(sell-through {row['sell_through']:.0%})"
        if capacity
        else f"{row['tickets_sold']:.0f} tickets",
        f"80% interval {row['tickets_low']:.0f}–{row['tickets_high']:.0f}",
        f"confidence {row['confidence']:.2f}: chance actual sales land within "
        f"±{TOLERANCE:.0%} of the prediction"
        + (f" (below {LOW_CONFIDENCE:.2f}: low confidence)" if row["low_confidence"] else ""),
    ]
    if row["cold_start"]:
        new = [what for what in ("artist", "venue") if row.get(f"new_{what}", True)]
        lines.append(
            f"cold start: no past concerts for this {' or '.join(new)}; priors from genre, "
            "popularity, capacity and venue type, and at most the confidence such forecasts "
            "earned before"
        )
    if row["likely_sell_out"]:
        lines.append("likely sell-out")
    return lines


def _prediction(
    row: pd.Series,
    *,
    artist: str,
    venue: str,
    day: str,
    capacity: float | None,
    version: str,
    concert_id: str | None = None,
) -> SalesPrediction:
    return SalesPrediction(
        artist=artist,
        venue=venue,
        date=day,
        concert_id=concert_id,
        tickets_sold=int(row["tickets_sold"]),
        tickets_low=int(row["tickets_low"]),
        tickets_high=int(row["tickets_high"]),
        capacity=int(capacity) if capacity else None,
        gross=round(float(row["gross"]), 2),
        gross_low=round(float(row["gross_low"]), 2),
        gross_high=round(float(row["gross_high"]), 2),
        sell_through=round(float(row["sell_through"]), 4),
        confidence=round(float(row["confidence"]), 4),
        low_confidence=bool(row["low_confidence"]),
        likely_sell_out=bool(row["likely_sell_out"]),
        cold_start=bool(row["cold_start"]),
        explanation=_explain(row, capacity),
        model_version=version,
    )


def _table(predictions: list[SalesPrediction]) -> Table:
    columns = [
        "artist",
        "venue",
        "date",
        "tickets_sold",
        "tickets_low",
        "tickets_high",
        "gross",
        "confidence",
        "low_confidence",
        "likely_sell_out",
        "cold_start",
    ]
    return Table.from_rows(columns, [tuple(getattr(p, c) for c in columns) for p in predictions])


@audited("artists", "venues", "concerts", "concert_performance")
def predict_ticket_sales_batch(
    ctx: ToolContext, *, items: list[PredictionRequest | dict[str, Any]]
) -> SalesPredictions:
    """Forecast tickets sold and gross for many {artist, venue, date, price?} items at once."""
    if not items or len(items) > _MAX_BATCH:
        raise ValidationError(f"send 1 to {_MAX_BATCH} items; got {len(items)}", field="items")
    requests = [i if isinstance(i, PredictionRequest) else PredictionRequest(**i) for i in items]
    resolved: list[dict[str, Any]] = []
    with reading(ctx.settings) as con:
        for req in requests:
            artist_id, artist = resolve(con, "artist", req.artist)
            venue_id, venue = resolve(con, "venue", req.venue)
            capacity = con.execute(
                "SELECT capacity FROM venues WHERE venue_id = ?", [venue_id]
            ).fetchall()[0][0]
            resolved.append(
                {
                    "artist_id": artist_id,
                    "venue_id": venue_id,
                    "date": _iso(req.date),
                    "price": req.price,
                    "artist": artist,
                    "venue": venue,
                    "capacity": capacity,
                }
            )
        if any(r["price"] is not None and r["price"] < 0 for r in resolved):
            raise ValidationError("price must be zero or more", field="price")
        # scikit-learn loads on first use
        from models.forecast.predict import pair_features, predict_pairs, reference_date

        today = reference_date(con).isoformat()
        if past := sorted({r["date"] for r in resolved if r["date"] < today}):
            raise ValidationError(
                f"{', '.join(past)} is before the data's today ({today}): a forecast is for a "
                "concert to come; a past concert's results are in its artist's and venue's "
                "history (artist_profile, concert_performance)",
                field="date",
            )
        # computed on the reader that resolved the names: one warehouse open per call
        features = pair_features(con, resolved)
    from models.serving.predictor import forecaster

    frame, meta = predict_pairs(
        ctx.settings, resolved, model=forecaster(ctx.settings), features=features
    )
    predictions = [
        _prediction(
            frame.iloc[i],
            artist=r["artist"],
            venue=r["venue"],
            day=r["date"],
            capacity=r["capacity"],
            version=meta.version,
        )
        for i, r in enumerate(resolved)
    ]
    return SalesPredictions(predictions=predictions, table=_table(predictions))


@audited("artists", "venues", "concerts", "concert_performance")
def predict_ticket_sales(
    ctx: ToolContext, *, artist: str, venue: str, date: str, price: float | None = None
) -> SalesPrediction:
    """Forecast how many tickets an artist would sell at a venue on a date (ISO), and the gross.

    Returns an 80% interval, a confidence in [0, 1] (the calibrated chance that actual sales
    land within ±20% of the prediction; below 0.70 is flagged low_confidence), likely_sell_out,
    and cold_start when the artist or venue has no past concerts. Price (average ticket price in
    dollars) is optional.
    """
    request = PredictionRequest(artist=artist, venue=venue, date=date, price=price)
    return predict_ticket_sales_batch(ctx, items=[request]).predictions[0]


@audited("artists", "venues", "concerts", "concert_performance")
def predict_concerts(ctx: ToolContext, *, concert_ids: list[str]) -> SalesPredictions:
    """Forecast tickets and gross for existing (typically scheduled) concerts by concert_id."""
    if not concert_ids or len(concert_ids) > _MAX_BATCH:
        raise ValidationError(
            f"send 1 to {_MAX_BATCH} concert ids; got {len(concert_ids)}", field="concert_ids"
        )
    import pandas as pd

    from models.forecast.predict import predict_concert_ids
    from models.serving.predictor import forecaster

    ids = [c.strip() for c in concert_ids]
    frame, meta = predict_concert_ids(ctx.settings, ids, model=forecaster(ctx.settings))
    predictions = [
        _prediction(
            row,
            artist=str(row["artist"]),
            venue=str(row["venue"]),
            day=pd.Timestamp(row["event_date"]).date().isoformat(),
            capacity=None if pd.isna(row["capacity"]) else float(row["capacity"]),
            version=meta.version,
            concert_id=str(cid),
        )
        for cid, row in frame.iterrows()
    ]
    return SalesPredictions(predictions=predictions, table=_table(predictions))
