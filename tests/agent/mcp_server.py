"""A stand-in for `python -m mcp_servers all` in the agent tests (`-m tests.agent.mcp_server`):
a few tools of the same names and result shapes over the real warehouse, and the vocabulary
resource, so these tests do not depend on the other workstreams' tools. ENCORE_* configure it.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

from mcp.server.fastmcp import FastMCP

from core.errors import QueryRefusedError
from core.settings import Settings
from core.warehouse import reading
from tools.results import QueryResult, Table

_DIMENSIONS = {"genre": "a.genre", "state": "v.state", "city": "v.city", "artist": "a.name"}


def build(settings: Settings, port: int = 8000) -> FastMCP:
    server = FastMCP("encore-test", log_level="WARNING", host="127.0.0.1", port=port)

    def run(sql: str) -> QueryResult:
        with reading(settings) as con:
            cursor = con.execute(sql)
            columns = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
        table = Table.from_rows(columns, rows)
        return QueryResult(columns=columns, rows=table.rows, sql=sql, row_count=len(rows))

    @server.tool()
    def semantic_query(
        measures: list[str], dimensions: list[str] | None = None, limit: int = 100
    ) -> QueryResult:
        """Tickets sold by a dimension (genre, state, city, artist)."""
        dim = (dimensions or ["genre"])[0]
        sql = (
            f"SELECT {_DIMENSIONS[dim]} AS {dim}, SUM(p.tickets_sold) AS tickets_sold "
            "FROM concert_performance p JOIN artists a USING (artist_id) "
            "JOIN venues v USING (venue_id) GROUP BY 1 ORDER BY 2 DESC "
            f"LIMIT {int(limit)}"
        )
        return run(sql)

    @server.tool()
    def run_sql(sql: str) -> QueryResult:
        """Run one read-only SELECT."""
        if not sql.lstrip().lower().startswith("select"):
            raise QueryRefusedError(f"only SELECT is allowed; got {sql.split()[0].upper()}")
        return run(sql)

    @server.tool()
    def make_chart(
        kind: str, table: dict[str, Any], x: str | None = None, y: str | None = None
    ) -> dict[str, Any]:
        """Draw a chart of a table."""
        cols = table["columns"]
        xs = [r[cols.index(x or cols[0])] for r in table["rows"]]
        ys = [r[cols.index(y or cols[1])] for r in table["rows"]]
        plotly = {"data": [{"type": kind, "x": xs, "y": ys}], "layout": {}}
        return {"kind": kind, "title": None, "plotly": plotly, "png_base64": None}

    @server.resource("encore://vocabulary/{kind}", mime_type="application/json")
    def vocabulary(kind: str) -> str:
        column = {"artists": "name FROM artists", "genres": "DISTINCT genre FROM artists",
                  "cities": "DISTINCT city FROM venues", "venues": "name FROM venues",
                  "states": "DISTINCT state FROM venues",
                  "venue_types": "DISTINCT venue_type FROM venues"}[kind]  # fmt: skip
        names = [r[0] for r in run(f"SELECT {column} ORDER BY 1").rows]
        return json.dumps({"kind": kind, "names": names})  # the real server's Vocabulary shape

    return server


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    if len(sys.argv) == 3 and sys.argv[1] == "--http":  # streamable HTTP on 127.0.0.1:PORT/mcp
        build(Settings(), int(sys.argv[2])).run("streamable-http")
    else:
        build(Settings()).run("stdio")
