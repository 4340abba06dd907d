"""`encore recommend` (concerts, similar artists, venues) and `encore bench recommend`.

The lead mounts `app` as `encore recommend` and `bench_app` on `encore bench`.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from core.errors import EncoreError
from core.settings import Settings

app = typer.Typer(help="Concert, artist and venue recommendations.")
bench_app = typer.Typer()
console = Console()

_BENCH_METRICS = ("precision@10", "recall@10", "ndcg@10", "map@10", "coverage@10")


@app.callback(invoke_without_command=True)
def recommend_command(
    fan: Annotated[str | None, typer.Option("--fan", help="a fan id of the fans table")] = None,
    similar_to: Annotated[
        str | None, typer.Option("--similar-to", help="artists similar to this one")
    ] = None,
    venues_for: Annotated[
        str | None, typer.Option("--venues-for", help="venues that fit this artist")
    ] = None,
    genres: Annotated[
        str | None, typer.Option("--genres", help="comma-separated genres, e.g. rock,indie")
    ] = None,
    artists: Annotated[
        str | None, typer.Option("--artists", help="comma-separated artists the fan likes")
    ] = None,
    city: Annotated[str | None, typer.Option("--city", help="the fan's (or market's) city")] = None,
    state: Annotated[str | None, typer.Option("--state", help="state code, e.g. IL")] = None,
    near: Annotated[
        str | None,
        typer.Option("--near", help="with --venues-for: venues within --within-km of this city"),
    ] = None,
    within_km: Annotated[
        float | None,
        typer.Option("--within-km", min=1, help="how far from --near counts (default 150 km)"),
    ] = None,
    budget: Annotated[float | None, typer.Option("--budget", help="max ticket price")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100)] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Upcoming concerts for a fan or stated tastes; or similar artists; or venues for an artist."""
    from models.recommend import NEAR_KM, service

    settings = Settings()
    try:
        if similar_to:
            title = f"artists similar to {similar_to}"
            rows = service.similar_artists(settings, similar_to, limit=limit)
        elif venues_for:
            title = f"venues for {venues_for}"
            within_km = within_km or NEAR_KM
            if near:
                title += f" within {within_km:g} km of {near}"
            rows = service.venues_for_artist(
                settings,
                venues_for,
                city=city,
                state=state,
                near=near,
                within_km=within_km,
                limit=limit,
            )
        else:
            title = f"concerts for {fan}" if fan else "concerts for you"
            rows = service.recommend_concerts(
                settings,
                fan_id=fan,
                genres=_split(genres),
                artists=_split(artists),
                city=city,
                state=state,
                budget=budget,
                limit=limit,
            )
    except EncoreError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps({"items": rows}, default=str))
        return
    _print(title, rows)


@bench_app.command("recommend")
def bench_recommend_command(
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Hybrid vs CF-only vs content-only vs popularity on a 60-day time-based holdout."""
    from models.recommend.bench import bench_recommend

    with console.status("training and evaluating on the warehouse ..."):
        result = bench_recommend(Settings())
    if as_json:
        typer.echo(json.dumps(result, default=str))
        return
    for prefix, label in (("", "upcoming concerts"), ("artist_", "new artists")):
        table = Table("model", *_BENCH_METRICS, title=f"recommenders on the warehouse: {label}")
        for row in result["models"]:
            table.add_row(
                row["name"],
                *(f"{row[prefix + m]:.4f}" if prefix + m in row else "-" for m in _BENCH_METRICS),
            )
        console.print(table)
    refresh = result["refresh_s"]
    console.print(f"holdout: {result['holdout']}; refresh (read, evaluate, fit): {refresh:.1f} s")


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


_HIDDEN = ("concert_id", "score", "rank")


def _print(title: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        console.print(f"{title}: nothing matches; widen the dates, budget or place")
        return
    # columns no row fills (distance_km without --near) are left out
    columns = [c for c in rows[0] if c not in _HIDDEN and any(r[c] is not None for r in rows)]
    table = Table(*columns, title=title)
    for row in rows:
        table.add_row(*("" if row[c] is None else str(row[c]) for c in columns))
    console.print(table)
