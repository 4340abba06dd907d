"""Ticket-sales forecasts (3.2, 3.5): features → gradient boosting → calibrated confidence.

The constants that define what a prediction promises live here, apart from the model, so callers
can read them without importing scikit-learn (model.py explains each one).
"""

from typing import Final

TOLERANCE: Final = 0.20
"""confidence = calibrated chance that actual tickets land within ±TOLERANCE of the forecast."""
INTERVAL_LEVEL: Final = 0.80
"""Nominal coverage of the conformal prediction interval."""
LOW_CONFIDENCE: Final = 0.70
"""Predictions with confidence below this are flagged low_confidence (requirement 3.5)."""
SELL_OUT_AT: Final = 0.95
"""Predicted sell-through at or above which a concert is called a likely sell-out."""

__all__ = ["INTERVAL_LEVEL", "LOW_CONFIDENCE", "SELL_OUT_AT", "TOLERANCE"]
