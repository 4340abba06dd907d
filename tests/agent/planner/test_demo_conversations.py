"""Issue 6 demo conversations through a real strands Agent, with catalog-shaped fake tools."""

from __future__ import annotations

import os
from datetime import date
from typing import Any

import pytest
from strands import Agent, tool

from agent.planner import OfflinePlanner
from core.settings import Settings
from tools.context import ToolContext
from tools.insights import profile
from tools.results import Table
from tools.warehouse import reading

os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
TODAY = date(2026, 11, 1)
_DIMS = {
    "artist": "a.name",
    "genre": "a.genre",
    "venue": "v.name",
    "city": "v.city",
    "state": "v.state",
    "venue_type": "v.venue_type",
    "month": "strftime(p.event_date, '%Y-%m')",
    "quarter": "strftime(p.event_date, '%Y') || '-Q' || quarter(p.event_date)",
}
_MEASURES = {
    "tickets_sold": "sum(p.tickets_sold)",
    "gross_revenue": "round(sum(p.gross_revenue))",
    "concerts": "count(*)",
    "sell_through": "round(avg(p.sell_through), 3)",
}


def query_warehouse(settings: Settings, sql: str) -> list[dict[str, Any]]:
    with reading(settings) as con:
        cursor = con.execute(sql)
        cols = [d[0] for d in cursor.description]
        return [dict(zip(cols, row, strict=True)) for row in cursor.fetchall()]


def _lit(value: Any) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def make_tools(settings: Settings) -> tuple[list[Any], list[dict[str, Any]]]:
    """Fake catalog tools over the small warehouse, and the log of their calls."""
    log: list[dict[str, Any]] = []
    ctx = ToolContext(settings)

    def table(sql: str) -> dict[str, Any]:
        rows = query_warehouse(settings, sql)
        cols = list(rows[0].keys()) if rows else []
        return Table.from_rows(cols, [tuple(r.values()) for r in rows]).model_dump()

    @tool
    def semantic_query(
        measures: list[str],
        dimensions: list[str] | None = None,
        filters: list[dict[str, Any]] | None = None,
        time_range: dict[str, Any] | None = None,
        order_by: list[dict[str, Any]] | None = None,
        limit: int = 100,
    ) -> dict[str, Any]:
        """Measures by dimensions."""
        log.append({"name": "semantic_query", "input": locals().copy()})
        dims = dimensions or []
        select = [f"{_DIMS[d]} AS {d}" for d in dims] + [f"{_MEASURES[m]} AS {m}" for m in measures]
        where = ["p.status = 'completed'"]
        for f in filters or []:
            col = _DIMS[f["field"]]
            if f["op"] == "in":
                where.append(
                    f"lower({col}) IN ({', '.join(_lit(str(v).lower()) for v in f['value'])})"
                )
            else:
                where.append(f"lower({col}) = lower({_lit(f['value'])})")
        if time_range and time_range.get("start"):
            where.append(f"p.event_date >= DATE {_lit(time_range['start'])}")
        if time_range and time_range.get("end"):
            where.append(f"p.event_date <= DATE {_lit(time_range['end'])}")
        order = ", ".join(
            f"{o['field']} {'DESC' if o.get('descending', True) else 'ASC'}" for o in order_by or []
        )
        sql = (
            f"SELECT {', '.join(select)} FROM concert_performance p "
            "JOIN artists a USING (artist_id) "
            f"JOIN venues v USING (venue_id) WHERE {' AND '.join(where)}"
            + (" GROUP BY ALL" if dims else "")
            + (f" ORDER BY {order}" if order else "")
            + f" LIMIT {limit}"
        )
        return {**table(sql), "sql": sql}

    @tool
    def venue_ranking(
        city: str | None = None,
        state: str | None = None,
        genre: str | None = None,
        capacity_band: str | None = None,
        venue_type: str | None = None,
        limit: int = 10,
    ) -> dict[str, Any]:
        """Best venues."""
        log.append({"name": "venue_ranking", "input": locals().copy()})
        where = ["p.status = 'completed'"]
        if city:
            where.append(f"v.city = {_lit(city)}")
        if state:
            where.append(f"v.state = {_lit(state)}")
        if capacity_band == "medium":
            where.append("v.capacity BETWEEN 1000 AND 5000")
        t = table(
            "SELECT v.name AS venue, v.city, v.state, v.capacity, "
            "round(avg(p.sell_through), 3) AS score "
            "FROM concert_performance p JOIN venues v USING (venue_id) WHERE "
            + " AND ".join(where)
            + f" GROUP BY ALL ORDER BY score DESC, venue LIMIT {limit}"
        )
        rows = [
            dict(zip(t["columns"], r, strict=True)) | {"rank": i + 1}
            for i, r in enumerate(t["rows"])
        ]
        return {"rows": rows, "table": t, "computed_at": "2026-11-01"}

    @tool
    def upcoming_concerts(
        artist: str | None = None,
        venue: str | None = None,
        city: str | None = None,
        state: str | None = None,
        genres: list[str] | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        limit: int = 20,
    ) -> dict[str, Any]:
        """Scheduled concerts."""
        log.append({"name": "upcoming_concerts", "input": locals().copy()})
        result = profile.upcoming_concerts(
            ctx,
            artist=artist,
            venue=venue,
            city=city,
            state=state,
            genres=genres,
            date_from=date_from or TODAY.isoformat(),
            date_to=date_to,
            limit=limit,
        )
        return result.model_dump()

    @tool
    def artist_profile(artist: str) -> dict[str, Any]:
        """Artist profile."""
        log.append({"name": "artist_profile", "input": {"artist": artist}})
        return profile.artist_profile(ctx, artist=artist).model_dump(mode="json")

    @tool
    def recommend_concerts(
        fan_id: str | None = None,
        genres: list[str] | None = None,
        artists: list[str] | None = None,
        city: str | None = None,
        state: str | None = None,
        budget: float | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        limit: int = 10,
    ) -> dict[str, Any]:
        """Recommendations."""
        log.append({"name": "recommend_concerts", "input": locals().copy()})
        up = profile.upcoming_concerts(
            ctx,
            genres=genres,
            date_from=date_from or TODAY.isoformat(),
            date_to=date_to,
            limit=limit,
        )
        items = [
            {
                "concert_id": r["concert_id"],
                "artist": r["artist"],
                "venue": r["venue"],
                "city": r["city"],
                "state": r["state"],
                "event_date": r["event_date"],
                "price_min": r["price_min"],
                "score": 0.9 - i / 100,
                "reason": f"you like {r['genre']}",
            }
            for i, r in enumerate(up.records())
        ]
        return {"items": items}

    @tool
    def predict_concerts(concert_ids: list[str]) -> dict[str, Any]:
        """Predictions for scheduled concerts."""
        log.append({"name": "predict_concerts", "input": {"concert_ids": concert_ids}})
        preds = [
            {
                "artist": "x",
                "venue": "y",
                "date": "2026-12-01",
                "tickets_sold": 1000 + i,
                "tickets_low": 900,
                "tickets_high": 1100,
                "gross": 50000.0,
                "sell_through": 0.97,
                "confidence": 0.62,
                "low_confidence": True,
                "likely_sell_out": i % 2 == 0,
                "explanation": ["strong genre demand"],
            }
            for i, _ in enumerate(concert_ids)
        ]
        return {"predictions": preds}

    @tool
    def make_chart(
        kind: str,
        table: dict[str, Any],
        x: str | None = None,
        y: str | None = None,
        color: str | None = None,
        title: str | None = None,
    ) -> dict[str, Any]:
        """A chart."""
        log.append({"name": "make_chart", "input": {"kind": kind, "x": x, "y": y}})
        return {"kind": kind, "title": title, "plotly": {"data": []}, "png_base64": None}

    @tool
    def lookup_source(source: str, query: str, kind: str = "artist") -> dict[str, Any]:
        """External lookup."""
        log.append(
            {"name": "lookup_source", "input": {"source": source, "query": query, "kind": kind}}
        )
        return {"source": source, "reachable": False, "message": "no network", "items": []}

    @tool
    def remember_preference(kind: str, value: str) -> dict[str, Any]:
        """Remember a preference."""
        log.append({"name": "remember_preference", "input": {"kind": kind, "value": value}})
        return {"ok": True}

    tools = [
        semantic_query,
        venue_ranking,
        upcoming_concerts,
        artist_profile,
        recommend_concerts,
        predict_concerts,
        make_chart,
        lookup_source,
        remember_preference,
    ]
    return tools, log


@pytest.fixture(scope="module")
def vocab(small_warehouse: Settings) -> Any:
    sql = {
        "artists": "SELECT name FROM artists",
        "venues": "SELECT name FROM venues",
        "cities": "SELECT DISTINCT city AS name FROM venues",
        "states": "SELECT DISTINCT state AS name FROM venues WHERE state IS NOT NULL",
        "genres": "SELECT DISTINCT genre AS name FROM artists WHERE genre IS NOT NULL",
        "venue_types": "SELECT DISTINCT venue_type AS name FROM venues",
    }
    cache = {k: [r["name"] for r in query_warehouse(small_warehouse, q)] for k, q in sql.items()}
    return lambda kind: cache.get(kind, [])


def run(agent: Agent, log: list[dict[str, Any]], text: str) -> tuple[str, list[dict[str, Any]]]:
    start = len(log)
    answer = str(agent(text))
    return answer, log[start:]


def test_artist_conversation(small_warehouse: Settings, vocab: Any) -> None:
    tools, log = make_tools(small_warehouse)
    agent = Agent(
        model=OfflinePlanner(vocabulary=vocab, today=TODAY), tools=tools, callback_handler=None
    )
    answer, calls = run(agent, log, "Tell me about Elizabeth Vargas")
    assert [c["name"] for c in calls] == ["artist_profile"]
    facts = query_warehouse(
        small_warehouse,
        "SELECT sum(tickets_sold) AS t FROM concert_performance p "
        "JOIN artists a USING (artist_id) WHERE a.name='Elizabeth Vargas' AND status='completed'",
    )
    assert f"{facts[0]['t']:,}" in answer
    answer, calls = run(agent, log, "What venues have they performed at?")
    assert calls[0]["name"] == "semantic_query"
    assert {"field": "artist", "op": "=", "value": "Elizabeth Vargas"} in calls[0]["input"][
        "filters"
    ]
    assert "```sql" in answer
    answer, calls = run(agent, log, "How popular are they compared to other pop artists?")
    assert calls[-1]["input"]["filters"] == [{"field": "genre", "op": "=", "value": "pop"}]
    assert "Elizabeth Vargas ranks #" in answer


def test_venue_conversation(small_warehouse: Settings, vocab: Any) -> None:
    tools, log = make_tools(small_warehouse)
    agent = Agent(
        model=OfflinePlanner(vocabulary=vocab, today=TODAY), tools=tools, callback_handler=None
    )
    answer, calls = run(agent, log, "What are the best venues in New York for rock concerts?")
    assert calls[0]["name"] == "venue_ranking"
    assert calls[0]["input"]["city"] == "New York" and calls[0]["input"]["genre"] == "rock"
    assert "Satin Club" in answer
    answer, calls = run(agent, log, "Which venue would be best for a mid-sized indie band?")
    assert calls[0]["name"] == "venue_ranking"
    assert calls[0]["input"]["capacity_band"] == "medium" and calls[0]["input"]["genre"] == "indie"
    answer, calls = run(agent, log, "Show me upcoming concerts at The Compass Room")
    assert (
        calls[0]["name"] == "upcoming_concerts" and calls[0]["input"]["venue"] == "The Compass Room"
    )
    assert "The Compass Room" in answer


def test_recommendation_conversation(small_warehouse: Settings, vocab: Any) -> None:
    tools, log = make_tools(small_warehouse)
    agent = Agent(
        model=OfflinePlanner(vocabulary=vocab, today=TODAY), tools=tools, callback_handler=None
    )
    answer, calls = run(
        agent, log, "I like rock and alternative music. What concerts should I attend?"
    )
    names = [c["name"] for c in calls]
    assert names == ["remember_preference", "recommend_concerts"]
    assert calls[0]["input"] == {"kind": "genres", "value": "rock, alternative"}
    assert set(calls[-1]["input"]["genres"]) == {"rock", "alternative"}
    answer, calls = run(agent, log, "What about something in the next month?")
    assert calls[0]["name"] == "recommend_concerts"
    assert (
        calls[0]["input"]["date_from"] == "2026-11-01"
        and calls[0]["input"]["date_to"] == "2026-12-01"
    )
    answer, calls = run(agent, log, "Which of these concerts are likely to sell out?")
    assert calls[0]["name"] == "predict_concerts" and calls[0]["input"]["concert_ids"]
    assert "likely to sell out" in answer and "low confidence" in answer


def test_trend_conversation(small_warehouse: Settings, vocab: Any) -> None:
    tools, log = make_tools(small_warehouse)
    agent = Agent(
        model=OfflinePlanner(vocabulary=vocab, today=TODAY), tools=tools, callback_handler=None
    )
    answer, calls = run(agent, log, "Show me the trend of concert attendance over the past year")
    assert [c["name"] for c in calls] == ["semantic_query", "make_chart"]
    assert calls[0]["input"]["dimensions"] == ["month"]
    assert calls[0]["input"]["time_range"] == {"start": "2025-11-01", "end": "2026-11-01"}
    answer, calls = run(agent, log, "Which genres are most popular?")
    assert calls[0]["input"]["dimensions"] == ["genre"]
    top = query_warehouse(
        small_warehouse,
        "SELECT a.genre, sum(tickets_sold) t FROM concert_performance p "
        "JOIN artists a USING (artist_id) WHERE status='completed' "
        "GROUP BY 1 ORDER BY 2 DESC LIMIT 1",
    )
    assert f"{top[0]['t']:,}" in answer
    answer, calls = run(agent, log, "Compare ticket sales between venues in California")
    assert calls[0]["input"]["dimensions"] == ["venue"]
    assert {"field": "state", "op": "=", "value": "CA"} in calls[0]["input"]["filters"]
    answer, calls = run(agent, log, "only in Texas")
    assert {"field": "state", "op": "=", "value": "TX"} in calls[0]["input"]["filters"]
    answer, calls = run(agent, log, "and the top 3?")
    assert calls[0]["input"]["limit"] == 3


def test_external_conversation(small_warehouse: Settings, vocab: Any) -> None:
    tools, log = make_tools(small_warehouse)
    agent = Agent(
        model=OfflinePlanner(vocabulary=vocab, today=TODAY), tools=tools, callback_handler=None
    )
    answer, calls = run(agent, log, "Get me the latest information about James Henry from Spotify")
    assert calls[0]["input"] == {"source": "spotify", "query": "James Henry", "kind": "artist"}
    assert "can't be reached" in answer
    answer, calls = run(agent, log, "Are there any upcoming James Henry concerts on Ticketmaster?")
    assert calls[0]["input"]["source"] == "ticketmaster" and calls[0]["input"]["kind"] == "events"
    answer, calls = run(
        agent, log, "How does their current popularity compare to our historical data?"
    )
    assert [c["name"] for c in calls] == ["lookup_source", "artist_profile"]
    assert "James Henry" in answer and "tickets sold" in answer


def test_out_of_scope_and_missing_tool(small_warehouse: Settings, vocab: Any) -> None:
    tools, log = make_tools(small_warehouse)
    agent = Agent(
        model=OfflinePlanner(vocabulary=vocab, today=TODAY), tools=tools[:1], callback_handler=None
    )
    assert "I can't answer that yet" in str(agent("Write a limerick about cats"))
    answer = str(agent("What are the best venues in New York?"))
    assert "isn't available" in answer and log == []
