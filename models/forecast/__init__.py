"""Ticket-sales forecasts (3.2, 3.5): features → gradient boosting → calibrated confidence."""

from models.forecast.model import LOW_CONFIDENCE, SELL_OUT_AT, TOLERANCE, SalesForecaster

__all__ = ["LOW_CONFIDENCE", "SELL_OUT_AT", "TOLERANCE", "SalesForecaster"]
