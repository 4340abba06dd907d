"""Insight tools over the trained models: venue rankings, sales forecasts, recommendations, metrics.

Modules: `profile` (artist profiles, upcoming concerts), `ranking` (venue_ranking), `forecast`
(predict_ticket_sales, predict_ticket_sales_batch, predict_concerts), `metrics` (model_metrics),
`recommend` (recommenders). Each function takes a `ToolContext` first and returns a pydantic model.
"""
