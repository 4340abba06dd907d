"""The insights server: rankings, forecasts, recommendations, artist profiles, model metrics."""

from __future__ import annotations

from mcp.server.fastmcp import FastMCP

from mcp_servers.binding import register as add
from tools.context import ToolContext
from tools.insights import forecast, metrics, profile, ranking, recommend

INSTRUCTIONS = (
    "Concert insights: venue rankings, ticket-sales predictions with confidence (below 0.70 is "
    "flagged low-confidence), recommendations with reasons, artist profiles and history."
)


def register(server: FastMCP, ctx: ToolContext) -> None:
    add(server, ctx, ranking.venue_ranking)
    add(server, ctx, forecast.predict_ticket_sales)
    add(server, ctx, forecast.predict_ticket_sales_batch)
    add(server, ctx, forecast.predict_concerts)
    add(server, ctx, recommend.recommend_concerts)
    add(server, ctx, recommend.similar_artists)
    add(server, ctx, recommend.venues_for_artist)
    add(server, ctx, recommend.recommend_batch)
    add(server, ctx, profile.artist_profile)
    add(server, ctx, profile.upcoming_concerts)
    add(server, ctx, metrics.model_metrics)

    @server.prompt(description="A briefing on an artist: history, venues, genre standing")
    def artist_briefing(artist: str) -> str:
        return (
            f"Use artist_profile for {artist!r}, then summarise their performance history, "
            "their best venues and how they rank in their genre, with the key numbers."
        )

    @server.prompt(description="Find venues for a tour stop and forecast the sales")
    def plan_a_show(artist: str, city: str, date: str) -> str:
        return (
            f"Use venues_for_artist for {artist!r} with near={city!r} (venues within 150 km), "
            f"then predict_ticket_sales for the best two venues on {date}; compare tickets, "
            "gross and confidence."
        )
